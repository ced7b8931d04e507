package stack

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Goroutines reads a component's goroutine count from its /debug/pprof
// endpoint (baseURL is e.g. http://127.0.0.1:10250). Tests compare it before
// and after sessions to catch leaks inside the real binaries.
func (s *Stack) Goroutines(baseURL string) (int, error) {
	resp, err := s.http.Get(baseURL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("goroutine profile of %s: %s", baseURL, resp.Status)
	}
	// The first line reads "goroutine profile: total N".
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("goroutine profile of %s: %w", baseURL, err)
	}
	n, ok := strings.CutPrefix(strings.TrimSpace(line), "goroutine profile: total ")
	if !ok {
		return 0, fmt.Errorf("goroutine profile of %s: unexpected first line %q", baseURL, line)
	}
	return strconv.Atoi(n)
}

// GoroutineDump returns a component's goroutines grouped by stack, for a
// test to show what a leak is made of.
func (s *Stack) GoroutineDump(baseURL string) (string, error) {
	resp, err := s.http.Get(baseURL + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("goroutine profile of %s: %w", baseURL, err)
	}
	return string(b), nil
}
