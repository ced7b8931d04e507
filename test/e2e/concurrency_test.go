package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// TestConcurrentSessions opens many exec sessions (1000 on the fake
// runtime, see streamingServer.concurrentSessions) through every hop, half
// over SPDY and half over WebSocket (which the apiserver translates), and
// holds them all open at once — each shell says "ready" and waits for a line
// on stdin — then lets them all finish. Every one must succeed with all its
// output, and every component must be back at its baseline goroutine count
// right after. (Until internal/upgradeproxy, a few in a thousand lost their
// end in a proxy hop, on either runtime.) No other test runs meanwhile: it
// is not parallel, and Go runs the parallel tests after the others.
func TestConcurrentSessions(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	server := streamingServers[runtimeName]
	sessions := server.concurrentSessions
	config := shared.RESTConfig()
	config.QPS, config.Burst = -1, 0
	u := config.Host + "/api/v1/namespaces/default/pods/demo/exec?command=sh&command=-c&command=echo+ready%3B+read+x%3B+echo+%24x&stdin=true&stdout=true&stderr=true"
	gate := make(chan struct{})
	var ready, done sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			exec, err := remotecommand.NewSPDYExecutor(config, http.MethodPost, mustParseURL(u))
			if i%2 == 1 {
				exec, err = remotecommand.NewWebSocketExecutor(config, http.MethodGet, u)
			}
			if err != nil {
				errs <- err
				ready.Done()
				return
			}
			var stdout, stderr bytes.Buffer
			out := &readySignal{w: &stdout, ready: ready.Done}
			in := &gatedReader{gate: gate, line: fmt.Sprintf("session-%d\n", i)}
			err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: in, Stdout: out, Stderr: &stderr})
			out.signal()
			if want := fmt.Sprintf("ready\nsession-%d\n", i); err != nil || stdout.String() != want || stderr.Len() != 0 {
				errs <- fmt.Errorf("session %d: %v, stdout %q, stderr %q", i, err, stdout.String(), stderr.String())
			}
		}()
	}
	start := time.Now()
	ready.Wait()
	// What the open sessions cost, for docs/performance; not asserted.
	for _, c := range shared.Components() {
		if n, err := shared.Goroutines(c); err == nil {
			t.Logf("%s: %d goroutines with every session open (baseline %d)", c.URL, n, baselines[c.URL])
		}
	}
	t.Logf("%d sessions open after %v", sessions, time.Since(start))
	close(gate)
	done.Wait()
	t.Logf("all done after %v", time.Since(start))
	close(errs)
	failed := 0
	for err := range errs {
		if failed++; failed <= 5 {
			t.Error(err)
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d sessions failed", failed, sessions)
	}
	if err := checkNoGoroutineLeaks(shared); err != nil {
		t.Errorf("after %d sessions: %v", sessions, err)
	}
}

// readySignal writes through to w and calls ready once, when "ready"
// arrives (or, if the session fails first, when signal is called).
type readySignal struct {
	w     io.Writer
	ready func()
	once  sync.Once
	seen  bytes.Buffer
}

func (r *readySignal) Write(p []byte) (int, error) {
	r.seen.Write(p)
	if strings.Contains(r.seen.String(), "ready\n") {
		r.signal()
	}
	return r.w.Write(p)
}

func (r *readySignal) signal() { r.once.Do(r.ready) }

// gatedReader yields line once gate is closed, then EOF.
type gatedReader struct {
	gate <-chan struct{}
	line string
	sent bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if g.sent {
		return 0, io.EOF
	}
	<-g.gate
	g.sent = true
	return copy(p, g.line), nil
}

func mustParseURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}
