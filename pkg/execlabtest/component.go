package execlabtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Component is one part of the stack, the apiserver or a node's kubelet or
// fake-cri, run in this process or as a process of its binary.
type Component struct {
	// Name is "apiserver", or "kubelet" and "cri" for the one node of a
	// stack, "kubelet-<node>" and "cri-<node>" with several: the name of
	// its log (logs/<name>.log), PID file and directory in the state.
	Name string
	// URL is its HTTP base URL: the API, the kubelet API, or fake-cri's
	// debug server (processes only; empty in this process).
	URL string
	// LogPath is the file it logs to.
	LogPath string
	run     runner
	// ready reports whether it serves, once started.
	ready func() bool
}

// runner runs a component: runInProcess or runProcess.
type runner interface {
	start() error
	// stop ends it as SIGTERM does and waits; an error says it did not end
	// in time, or failed.
	stop() error
	// kill ends it at once, as a crash would, and waits.
	kill()
	exited() <-chan struct{}
	exitErr() error
	pid() int
	signal(os.Signal) error
}

// runState is what both runners keep of a component's current run.
type runState struct {
	mu   sync.Mutex
	done chan struct{}
	err  error
}

// launch begins a run, unless one is going on, with start, which gets the
// channel to end it with; if start fails, the run has ended with its error.
func (r *runState) launch(start func(done chan struct{}) error) error {
	done, err := r.begin()
	if err != nil {
		return err
	}
	if err := start(done); err != nil {
		r.end(done, err)
		return err
	}
	return nil
}

// begin begins a run, unless one is going on; end ends it.
func (r *runState) begin() (chan struct{}, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil && !isClosed(r.done) {
		return nil, errors.New("it is still running")
	}
	r.done, r.err = make(chan struct{}), nil
	return r.done, nil
}

func (r *runState) end(done chan struct{}, err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	close(done)
}

func (r *runState) exited() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done
}

func (r *runState) exitErr() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// PID is the process the component runs in: its binary's, or this one.
func (c *Component) PID() int { return c.run.pid() }

// Signal sends sig to the component's process; in this process there is
// none of its own to signal.
func (c *Component) Signal(sig os.Signal) error { return c.run.signal(sig) }

// Exited is closed once the component has stopped.
func (c *Component) Exited() <-chan struct{} { return c.run.exited() }

// Kill ends the component at once and waits until it has: SIGKILL for a
// process; in this process its context is cancelled, which closes its
// listeners and connections. Stack.Restart starts it again.
func (c *Component) Kill() { c.run.kill() }

// Stop ends the component as SIGTERM does, and waits. A component that
// needed SIGKILL, or that failed, is an error.
func (c *Component) Stop() error {
	if c == nil {
		return nil
	}
	if err := c.run.stop(); err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	return nil
}

// Log returns what the component has logged so far.
func (c *Component) Log() string {
	b, _ := os.ReadFile(c.LogPath)
	return string(b)
}

// Running reports whether the component runs.
func (c *Component) Running() bool { return !isClosed(c.run.exited()) }

// waitReady polls ready for up to 30 s while the component runs.
func (c *Component) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !c.ready() {
		select {
		case <-c.run.exited():
			return fmt.Errorf("%s exited during start-up (%v): %s", c.Name, c.run.exitErr(), lastLines(c.Log(), 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w: %s", c.Name, ctx.Err(), lastLines(c.Log(), 20))
		case <-tick.C:
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
