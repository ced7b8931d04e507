package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/bench/payload"
)

// The client: client-go's remotecommand executors, as kubectl exec uses
// them, the same code for both chains.

// streams are the client's ends of an exec's streams; nil is not wanted.
type streams struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// run execs cmd through t and returns when the session has ended.
func (t *target) run(ctx context.Context, cmd []string, s streams) error {
	u, err := t.url(ctx, cmd, s.stdin != nil, s.stdout != nil, s.stderr != nil)
	if err != nil {
		return err
	}
	var ex remotecommand.Executor
	if t.websocket == nil {
		parsed, perr := url.Parse(u)
		if perr != nil {
			return perr
		}
		ex, err = remotecommand.NewSPDYExecutor(t.config, http.MethodPost, parsed)
	} else {
		ex, err = remotecommand.NewWebSocketExecutorForProtocols(t.config, http.MethodGet, u, t.websocket...)
	}
	if err != nil {
		return err
	}
	return ex.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: s.stdin, Stdout: s.stdout, Stderr: s.stderr})
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once. It
// is internal/testutil's SyncBuffer again: that package links chromedp,
// which would then load into every upstream part this binary runs and
// weigh on their memory.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// sample is one measured run: how long it took, what crossed, what each
// process spent (a reading's deltas, with "command" from the command's own
// report).
type sample struct {
	dur   time.Duration
	bytes int64
	procs reading
}

const commandRole = "command"

// measured runs fn between two readings of t's processes.
func measured(t *target, fn func() (int64, error)) (sample, error) {
	before, err := readCPUIO(t.procs)
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	n, runErr := fn()
	dur := time.Since(start)
	after, err := readCPUIO(t.procs)
	if err != nil {
		return sample{}, err
	}
	return sample{dur: dur, bytes: n, procs: after.sub(before)}, runErr
}

// shortTransfer says what a transfer that ended without an error failed
// to deliver.
type shortTransfer struct{ got, want payload.Sum }

func (e shortTransfer) Error() string {
	return fmt.Sprintf("the session reported success but delivered %v, want %v", e.got, e.want)
}

// stdoutTransfer has the command write size bytes to stdout and checks
// every byte the client received. cmdName is gen, or short for the check
// that catches a short transfer.
func stdoutTransfer(ctx context.Context, t *target, payloadBin, cmdName string, size int64) (sample, error) {
	return stdoutTransferTo(ctx, t, payloadBin, cmdName, size, nil)
}

// stdoutTransferTo is stdoutTransfer with the client's stdout wrapped by
// wrap, if not nil: a client that reads slowly, say.
func stdoutTransferTo(ctx context.Context, t *target, payloadBin, cmdName string, size int64, wrap func(io.Writer) io.Writer) (sample, error) {
	got := payload.NewSummer(nil)
	var stdout io.Writer = got
	if wrap != nil {
		stdout = wrap(got)
	}
	var stderr syncBuffer
	s, err := measured(t, func() (int64, error) {
		err := t.run(ctx, []string{payloadBin, cmdName, strconv.FormatInt(size, 10)}, streams{stdout: stdout, stderr: &stderr})
		return got.Sum().N, err
	})
	addCommandStats(&s, stderr.String())
	if err != nil {
		return s, fmt.Errorf("%w (received %v; stderr %q)", err, got.Sum(), lastLine(stderr.String()))
	}
	if want := payload.Expected(size); got.Sum() != want {
		return s, shortTransfer{got.Sum(), want}
	}
	return s, nil
}

// pausingWriter is a client that stops reading for pause after every
// every bytes, as a person paging through output does.
type pausingWriter struct {
	w            io.Writer
	every, count int64
	pause        time.Duration
}

func (p *pausingWriter) Write(b []byte) (int, error) {
	p.count += int64(len(b))
	if p.count >= p.every {
		p.count = 0
		time.Sleep(p.pause)
	}
	return p.w.Write(b)
}

// stdinTransfer sends size bytes to the command, which checks every byte
// and says so on stdout.
func stdinTransfer(ctx context.Context, t *target, payloadBin string, size int64) (sample, error) {
	want := payload.Expected(size)
	var stdout, stderr syncBuffer
	// Read through a plain Reader, 32 KiB at a time, as kubectl copies its
	// stdin (a file).
	src := payload.NewReader(size)
	s, err := measured(t, func() (int64, error) {
		err := t.run(ctx, []string{payloadBin, "check", strconv.FormatInt(size, 10), fmt.Sprintf("%08x", want.CRC)},
			streams{stdin: struct{ io.Reader }{src}, stdout: &stdout, stderr: &stderr})
		return size - src.Remaining(), err
	})
	addCommandStats(&s, stderr.String())
	if err != nil {
		return s, fmt.Errorf("%w (command said %q, stderr %q)", err, strings.TrimSpace(stdout.String()), lastLine(stderr.String()))
	}
	if !strings.HasPrefix(stdout.String(), payload.CheckOK) {
		return s, fmt.Errorf("the session reported success but the command got other bytes: %q", strings.TrimSpace(stdout.String()))
	}
	return s, nil
}

func addCommandStats(s *sample, stderr string) {
	st, ok := payload.ParseStats(stderr)
	if !ok || s.procs == nil {
		return
	}
	s.procs[commandRole] = procSample{CPU: st.CPU, ReadCalls: st.ReadCalls, WriteCalls: st.WriteCalls, ReadBytes: st.ReadBytes, WriteBytes: st.WrittenBytes}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// trueCommand is the command of the latency rows.
var trueCommand = []string{"/bin/true"}

// execTrue runs `true` with stdout and stderr, as kubectl exec POD -- true.
func execTrue(ctx context.Context, t *target) (sample, error) {
	var out syncBuffer
	return measured(t, func() (int64, error) {
		return 0, t.run(ctx, trueCommand, streams{stdout: &out, stderr: &out})
	})
}

// idleCommand is what an idle session runs: it says it is there, then
// waits for stdin to close, as an interactive cat would.
var idleCommand = []string{"/bin/sh", "-c", "echo ready; exec cat"}

// idleSession is one open session.
type idleSession struct {
	stdin *io.PipeWriter
	done  chan error
}

// openIdle opens n idle sessions through t, at most concurrency being set
// up at once, and returns those that opened and how many failed (with the
// first error).
func openIdle(ctx context.Context, t *target, n, concurrency int) ([]*idleSession, int, error) {
	var (
		mu       sync.Mutex
		open     []*idleSession
		failed   int
		firstErr error
		wg       sync.WaitGroup
	)
	sem := make(chan struct{}, concurrency)
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			// What is being set up fails with ctx; wait for it, so that
			// every session started is either open or failed.
			wg.Wait()
			return open, n - len(open), ctx.Err()
		}
		wg.Add(1)
		r, w := io.Pipe()
		s := &idleSession{stdin: w, done: make(chan error, 1)}
		ready := make(chan struct{})
		out := payload.NewSummer(func() { close(ready) })
		go func() {
			s.done <- t.run(ctx, idleCommand, streams{stdin: r, stdout: out})
		}()
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			select {
			case <-ready:
				mu.Lock()
				open = append(open, s)
				mu.Unlock()
			case err := <-s.done:
				if err == nil {
					err = errors.New("session ended before it was ready")
				}
				mu.Lock()
				failed++
				if firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return open, failed, firstErr
}

// closeIdle closes the sessions' stdin, which ends their commands, and
// waits up to limit for them to end; it returns how many did not end, or
// ended with an error.
func closeIdle(sessions []*idleSession, limit time.Duration) (int, error) {
	for _, s := range sessions {
		s.stdin.Close()
	}
	deadline := time.After(limit)
	bad := 0
	var firstErr error
	for i, s := range sessions {
		select {
		case err := <-s.done:
			if err != nil {
				bad++
				if firstErr == nil {
					firstErr = err
				}
			}
		case <-deadline:
			return bad + len(sessions) - i, fmt.Errorf("%d sessions still open %v after their stdin closed", len(sessions)-i, limit)
		}
	}
	return bad, firstErr
}
