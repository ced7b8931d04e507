package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/remotecommand"
	clientremotecommand "k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/pkg/faults"
)

// exec is an exec request into the main pod's main container.
func (e *env) exec(p Protocol, cmd []string, stdin io.Reader, stdout, stderr io.Writer) StreamRequest {
	return StreamRequest{
		Subresource: "exec", Namespace: e.opts.Namespace, Pod: e.pods.main, Container: mainContainer,
		Command: cmd, Stdin: stdin, Stdout: stdout, Stderr: stderr, Protocol: p,
	}
}

func exitCodes(ctx context.Context, e *env, p Protocol) error {
	for _, tc := range []struct {
		script string
		want   int
	}{{"exit 0", 0}, {"exit 1", 1}, {"exit 3", 3}, {"exit 42", 42}, {"exit 255", 255}, {"kill -9 $$", 128 + 9}} {
		code, err := exitCode(e.stream(ctx, e.exec(p, []string{"sh", "-c", tc.script}, nil, io.Discard, io.Discard)))
		if err != nil {
			return fmt.Errorf("sh -c %q: %w", tc.script, err)
		}
		if code != tc.want {
			return fmt.Errorf("sh -c %q: exit code %d, want %d", tc.script, code, tc.want)
		}
	}
	return nil
}

func stdoutStderr(ctx context.Context, e *env, p Protocol) error {
	var stdout, stderr bytes.Buffer
	err := e.stream(ctx, e.exec(p, []string{"sh", "-c", "for i in 1 2 3; do echo out$i; echo err$i >&2; done"}, nil, &stdout, &stderr))
	if err != nil {
		return err
	}
	if stdout.String() != "out1\nout2\nout3\n" || stderr.String() != "err1\nerr2\nerr3\n" {
		return fmt.Errorf("stdout %q, stderr %q; want out1…out3 and err1…err3", stdout.String(), stderr.String())
	}
	return nil
}

func longArgument(ctx context.Context, e *env, p Protocol) error {
	arg := strings.Repeat("0123456789abcdefghij", 1000)
	var stdout bytes.Buffer
	if err := e.stream(ctx, e.exec(p, []string{"echo", arg}, nil, &stdout, io.Discard)); err != nil {
		return err
	}
	if got := strings.TrimSuffix(stdout.String(), "\n"); got != arg {
		return fmt.Errorf("echo of a %d-character argument printed %d characters", len(arg), len(got))
	}
	return nil
}

func stdinEOF(ctx context.Context, e *env, p Protocol) error {
	if p == WebSocketV4 {
		return notApplicable("v4.channel.k8s.io has no CLOSE signal: stdin cannot end before the session does")
	}
	var stdout bytes.Buffer
	ctx, cancel := context.WithTimeout(ctx, e.opts.HangAfter)
	defer cancel()
	err := e.stream(ctx, e.exec(p, []string{"cat"}, strings.NewReader("x\n"), &stdout, io.Discard))
	if ctx.Err() != nil {
		return fmt.Errorf("cat still ran %v after stdin's end: %w", e.opts.HangAfter, ctx.Err())
	}
	if err != nil {
		return err
	}
	if stdout.String() != "x\n" {
		return fmt.Errorf("cat printed %q, want %q", stdout.String(), "x\n")
	}
	return nil
}

// binary sends BinaryBytes of a pseudo-random stream through head -c,
// which echoes them and exits, and compares what comes back with the same
// stream as it arrives: nothing of that size is held in memory.
func binary(ctx context.Context, e *env, p Protocol) error {
	n := e.opts.BinaryBytes
	seed := [32]byte{byte(len(p))}
	check := &sameAs{want: rand.NewChaCha8(seed), diff: -1}
	start := time.Now()
	err := e.stream(ctx, e.exec(p, []string{"head", "-c", strconv.FormatInt(n, 10)}, io.LimitReader(rand.NewChaCha8(seed), n), check, io.Discard))
	if err != nil {
		return err
	}
	switch {
	case check.diff >= 0:
		return fmt.Errorf("the bytes back differ from byte %d on", check.diff)
	case check.n != n:
		return fmt.Errorf("%d bytes back of %d sent", check.n, n)
	}
	return passed(fmt.Sprintf("%d MiB each way in %v", n>>20, time.Since(start).Round(time.Millisecond)))
}

// sameAs compares what is written to it with want, byte for byte.
type sameAs struct {
	want io.Reader
	buf  []byte
	n    int64
	// diff is the offset of the first byte that differs, -1 for none.
	diff int64
}

func (s *sameAs) Write(p []byte) (int, error) {
	if cap(s.buf) < len(p) {
		s.buf = make([]byte, len(p))
	}
	want := s.buf[:len(p)]
	_, _ = io.ReadFull(s.want, want)
	if s.diff < 0 && !bytes.Equal(p, want) {
		for i := range p {
			if p[i] != want[i] {
				s.diff = s.n + int64(i)
				break
			}
		}
	}
	s.n += int64(len(p))
	return len(p), nil
}

// tty runs a shell loop on a terminal that prints its size for every
// line typed: the initial size must show, then a resize's, and "q" ends
// it. Typed lines and sizes travel on different streams, so lines are
// typed again until the size shows.
func tty(ctx context.Context, e *env, p Protocol) error {
	sizes := make(sizeQueue, 2)
	defer close(sizes)
	stdin, typed := io.Pipe()
	defer typed.Close()
	var out lockedBuffer
	req := e.exec(p, []string{"sh", "-c", `while read l; do [ "$l" = q ] && exit 0; stty size; done`}, stdin, &out, nil)
	req.TTY, req.Sizes = true, sizes
	done := make(chan error, 1)
	go func() {
		done <- e.stream(ctx, req)
		stdin.Close()
	}()
	for _, size := range []clientremotecommand.TerminalSize{{Width: 100, Height: 30}, {Width: 120, Height: 40}} {
		sizes <- size
		want := fmt.Sprintf("%d %d", size.Height, size.Width)
		if err := typeUntil(ctx, typed, "s\n", &out, want, done); err != nil {
			return fmt.Errorf("terminal of %dx%d: %w", size.Width, size.Height, err)
		}
	}
	_, _ = io.WriteString(typed, "q\n")
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("the session did not end after q: %w; terminal: %q", ctx.Err(), out.String())
	}
}

// ttyNoStdin runs a terminal without stdin, which clients other than
// kubectl ask for (kubectl drops -t without -i: its StreamOptions.SetupTTY).
// The command writes after a second, so that a runtime that closes the
// terminal early fails every run, not by a race. containerd does over
// WebSocket: the streaming server hands it the unrequested stdin channel
// (cri-streaming's createWebSocketStreams), whose reads end at once
// (wsstream's websocketChannel.Read), and containerd ends a terminal's
// output when its stdin ends (internal/cri/io/exec_io.go Attach).
func ttyNoStdin(ctx context.Context, e *env, p Protocol) error {
	var out lockedBuffer
	req := e.exec(p, []string{"sh", "-c", "sleep 1; echo out"}, nil, &out, nil)
	req.TTY = true
	if err := e.stream(ctx, req); err != nil {
		return err
	}
	if got := out.String(); got != "out\r\n" {
		return fmt.Errorf("terminal %q, want %q: the server ended the terminal's output before the command did", got, "out\r\n")
	}
	return nil
}

// typeUntil types line every 200 ms until the output holds want, for up
// to 20 s, unless the session ends first; its end stays in done (which
// has room for it) for the caller.
func typeUntil(ctx context.Context, w io.Writer, line string, out *lockedBuffer, want string, done chan error) error {
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			return fmt.Errorf("never showed %q; terminal: %q", want, out.String())
		}
		_, _ = io.WriteString(w, line) // fails once the session has ended
		select {
		case err := <-done:
			done <- err
			if strings.Contains(out.String(), want) {
				return nil
			}
			if err == nil {
				return fmt.Errorf("the session ended with success; terminal: %q", out.String())
			}
			return fmt.Errorf("the session ended (%w); terminal: %q", err, out.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// sizeQueue hands client-go the terminal's sizes in turn.
type sizeQueue chan clientremotecommand.TerminalSize

func (q sizeQueue) Next() *clientremotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &s
}

// attach types hello to the attach pod's process, which prints it and
// exits: the server then ends the session, and the client must see that.
// With a fault that cuts sessions, only the cut ends it: the line typed is
// one the process prints and outlives, output for close-after and
// reset-after to count, and for a harness that kills a component (kill)
// the sign that the session is up at every hop.
func attach(ctx context.Context, e *env, p Protocol) error {
	stdin, typed := io.Pipe()
	defer typed.Close()
	var out lockedBuffer
	req := StreamRequest{Subresource: "attach", Namespace: e.opts.Namespace, Pod: e.pods.attach[p], Container: mainContainer,
		Stdin: stdin, Stdout: &out, Protocol: p}
	done := make(chan error, 1)
	go func() {
		done <- e.stream(ctx, req)
		stdin.Close()
	}()
	if e.cutting() {
		go func() { _, _ = io.WriteString(typed, "up\n") }()
		return <-done
	}
	if err := typeUntil(ctx, typed, "hello\n", &out, "attach: hello", done); err != nil {
		return err
	}
	select {
	case err := <-done:
		return err
	case <-time.After(e.opts.HangAfter):
		return fmt.Errorf("the client still waited %v after the server ended the session", e.opts.HangAfter)
	}
}

// cutting reports whether a fault cuts every session.
func (e *env) cutting() bool { return e.opts.Fault != nil && e.opts.Fault.Expect() == faults.Cut }

// cancelSession starts a long command, gives up on it, and checks that
// the client returned at once and, where the server shows its sessions,
// that the session ended there too.
func cancelSession(ctx context.Context, e *env, p Protocol) error {
	marker := fmt.Sprintf("started-%s-%s", e.id, p)
	cmd := []string{"sh", "-c", "echo " + marker + "; exec sleep 1000000"}
	sessCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- e.stream(sessCtx, e.exec(p, cmd, nil, &out, io.Discard)) }()
	// The output shows the session runs at the client too; one that never
	// shows it (a stalled one) is cancelled after Options.HangAfter. The
	// server's view of the session is no sign: client-go's WebSocket
	// executor cancelled between creating its streams and starting its
	// reader leaks the session's goroutines, which no-leak then reports
	// (tools/remotecommand/websocket.go: readDemuxLoop returns on the closed
	// connection's SetReadDeadline error without closing the streams).
	command := strings.Join(cmd, " ")
	for deadline := time.Now().Add(e.opts.HangAfter); !strings.Contains(out.String(), marker) && time.Now().Before(deadline); {
		select {
		case err := <-done:
			if err == nil {
				return errors.New("the session ended with success before it was cancelled")
			}
			return fmt.Errorf("the session ended before it was cancelled: %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		var met expectationMet
		if errors.As(err, &met) {
			return err
		}
	case <-time.After(e.opts.HangAfter):
		return fmt.Errorf("the client still ran %v after its context ended", e.opts.HangAfter)
	}
	return e.waitSessionsEnd(ctx, func(s session) bool { return s.Command == command })
}

// manyExecs runs Execs execs of true in a row.
func manyExecs(ctx context.Context, e *env, p Protocol) error {
	start := time.Now()
	ok, first := 0, error(nil)
	for i := range e.opts.Execs {
		err := e.stream(ctx, e.exec(p, []string{"true"}, nil, io.Discard, nil))
		var met expectationMet
		switch {
		case errors.As(err, &met), errors.Is(err, ErrUnsupported):
			return err
		case err == nil:
			ok++
		case ctx.Err() != nil:
			return fmt.Errorf("%d of %d execs exited 0 before the case's time ran out: %w", ok, i, ctx.Err())
		case first == nil:
			first = fmt.Errorf("exec %d: %w", i, err)
		}
	}
	note := fmt.Sprintf("%d of %d exited 0 in %v", ok, e.opts.Execs, time.Since(start).Round(time.Millisecond))
	if ok*100 < e.opts.Execs*99 {
		return fmt.Errorf("%s, fewer than 99 %%; first failure: %v", note, first)
	}
	return passed(note)
}

// negotiation offers one version, which must be spoken, then only a
// version no server has, which must be refused quickly.
func negotiation(ctx context.Context, e *env, p Protocol) error {
	version := remotecommand.StreamProtocolV4Name
	if p == WebSocketV5 {
		version = remotecommand.StreamProtocolV5Name
	}
	var stdout bytes.Buffer
	req := e.exec(p, []string{"echo", "ok"}, nil, &stdout, io.Discard)
	req.Versions = []string{version}
	if err := e.stream(ctx, req); err != nil {
		return fmt.Errorf("offering %s: %w", version, err)
	}
	if stdout.String() != "ok\n" {
		return fmt.Errorf("offering %s: stdout %q", version, stdout.String())
	}
	refusedCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req.Versions = []string{unknownVersion}
	code, err := exitCode(e.client.Stream(refusedCtx, req))
	switch {
	case refusedCtx.Err() != nil:
		return fmt.Errorf("offering only %s: no answer within 20 s", unknownVersion)
	case err == nil:
		return fmt.Errorf("offering only %s: the session ran (exit code %d); the server should refuse it", unknownVersion, code)
	}
	return nil
}

// unknownVersion is a version no server speaks.
const unknownVersion = "v0.unknown.k8s.io"

// fallback offers WebSocket a version it cannot have, and asks the
// client to fall back: the session must run over SPDY.
func fallback(ctx context.Context, e *env, p Protocol) error {
	var stdout bytes.Buffer
	req := e.exec(p, []string{"echo", "ok"}, nil, &stdout, io.Discard)
	req.Versions, req.Fallback = []string{unknownVersion}, true
	if err := e.stream(ctx, req); err != nil {
		return fmt.Errorf("WebSocket refused, then SPDY: %w", err)
	}
	if stdout.String() != "ok\n" {
		return fmt.Errorf("stdout %q", stdout.String())
	}
	return nil
}

// passed is a pass with a note (how long, how many).
type passed string

func (p passed) Error() string { return string(p) }

// lockedBuffer is a bytes.Buffer a session writes and a case reads at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
