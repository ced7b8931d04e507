package execlabtest

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/execlab/execlab/internal/goroutines"
	"github.com/execlab/execlab/internal/httpserver"
)

// Goroutines counts the goroutines of component c, for a test to compare
// before and after sessions: a process's from its /debug/pprof endpoint;
// in this process, those carrying c's pprof labels, which every goroutine
// it starts inherits.
func (s *Stack) Goroutines(c *Component) (int, error) {
	if s.opts.BinDir == "" {
		n, _ := s.labelled(c)
		return n, nil
	}
	resp, err := s.goroutineProfile(c)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	// The first line reads "goroutine profile: total N".
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("goroutine profile of %s: %w", c.Name, err)
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile of %s: unexpected first line %q", c.Name, line)
	}
	return strconv.Atoi(n)
}

// GoroutineDump returns c's goroutines grouped by stack, for a test to show
// what a leak is made of.
func (s *Stack) GoroutineDump(c *Component) (string, error) {
	if s.opts.BinDir == "" {
		_, dump := s.labelled(c)
		return dump, nil
	}
	resp, err := s.goroutineProfile(c)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("goroutine profile of %s: %w", c.Name, err)
	}
	return string(b), nil
}

// labelled counts and shows the goroutines of c, in this process.
func (s *Stack) labelled(c *Component) (int, string) {
	return goroutines.Labelled(componentLabel, s.id+"/"+c.Name)
}

// HTTPClient is the stack's own client for its components' health and
// profiling endpoints (httpserver.PprofPath): it trusts the cluster CA and
// shows a client certificate that the apiserver and the kubelets accept.
// A benchmark reads heap and CPU profiles with it.
func (s *Stack) HTTPClient() *http.Client { return s.http }

// goroutineProfile asks a process for its goroutine profile, grouped.
func (s *Stack) goroutineProfile(c *Component) (*http.Response, error) {
	if c.URL == "" {
		return nil, fmt.Errorf("%s serves no profile", c.Name)
	}
	resp, err := s.http.Get(c.URL + httpserver.PprofPath + "goroutine?debug=1")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("goroutine profile of %s: %s", c.Name, resp.Status)
	}
	return resp, nil
}
