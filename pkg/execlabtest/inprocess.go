package execlabtest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"
)

// stopTimeout bounds a component's stop: the packages give requests in
// flight 5 s.
const stopTimeout = 30 * time.Second

// runInProcess runs a component through its package in a goroutine of this
// process, under pprof labels that every goroutine it starts inherits, so
// that what it leaves running can be counted (Stack.Goroutines).
type runInProcess struct {
	runState
	spec    componentSpec
	labels  pprof.LabelSet
	logPath string
	// port is its TCP port, 0 for none; reserved is the listener taken on
	// it when the stack chose the port, for the first start.
	port     int
	reserved net.Listener
	cancel   context.CancelFunc
}

func (r *runInProcess) start() error { return r.launch(r.goServe) }

func (r *runInProcess) goServe(done chan struct{}) (err error) {
	ln := r.reserved
	r.reserved = nil
	if ln == nil && r.port != 0 {
		if ln, err = net.Listen("tcp", net.JoinHostPort(loopback, strconv.Itoa(r.port))); err != nil {
			return err
		}
	}
	logFile, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	// A logger of its own: components in one process share no global.
	log := slog.New(slog.NewTextHandler(logFile, nil))
	ctx, cancel := context.WithCancel(context.Background())
	r.mu.Lock()
	r.cancel = cancel
	r.mu.Unlock()
	go pprof.Do(ctx, r.labels, func(ctx context.Context) {
		err := r.spec.serve(ctx, ln, log)
		logFile.Close()
		r.end(done, err)
	})
	return nil
}

// stop cancels the component's context: each package then stops as its
// binary does on SIGTERM.
func (r *runInProcess) stop() error {
	done := r.cancelRun()
	select {
	case <-done:
		return r.exitErr()
	case <-time.After(stopTimeout):
		return fmt.Errorf("still running %v after its context ended", stopTimeout)
	}
}

// kill is stop, unchecked: cancelling the context is as abrupt as a
// component in this process can be ended, and each closes its listeners
// and every connection at once (the apiserver gives plain requests 5 s).
func (r *runInProcess) kill() { <-r.cancelRun() }

func (r *runInProcess) cancelRun() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel != nil {
		r.cancel()
	}
	return r.done
}

func (r *runInProcess) pid() int { return os.Getpid() }

func (r *runInProcess) signal(os.Signal) error {
	return errors.New("runs in this process: there is no process of its own to signal")
}

// reservedListener is a listener the stack took on a port it chose, for a
// component in this process to serve on at its first start; a restart
// listens anew.
type reservedListener struct {
	mu sync.Mutex
	ln net.Listener
}

// take returns the listener the first time, nil after.
func (r *reservedListener) take() net.Listener {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	ln := r.ln
	r.ln = nil
	return ln
}
