package execlabtest

import (
	"context"
	"fmt"
	"os"
	"strings"
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
