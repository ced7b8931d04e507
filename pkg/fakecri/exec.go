package fakecri

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/pkg/streaming"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// maxExecSyncOutput caps what ExecSync keeps of each stream, as containerd's
// cappedWriter: more would not fit in a gRPC response anyway.
const maxExecSyncOutput = 16 << 20

// execOptions are one exec's command and streams; a nil stream is not
// wanted.
type execOptions struct {
	cmd     []string
	stdin   io.Reader
	stdout  io.Writer
	stderr  io.Writer
	tty     bool
	resize  <-chan streaming.TerminalSize
	timeout time.Duration // 0: none
}

// Exec runs cmd in the container's environment, for pkg/streaming. It closes
// s.Stdout and s.Stderr once the command's output has ended, as containerd's
// exec IO does. A non-zero exit is a k8s.io/utils/exec.CodeExitError, not
// wrapped, so that the streaming server reports the code; ending the context
// (the client went away) hangs the command up (hangUp).
func (rt *Runtime) Exec(ctx context.Context, containerID string, cmd []string, s streaming.Streams) error {
	opts := execOptions{cmd: cmd, stdin: s.Stdin, tty: s.TTY, resize: s.Resize}
	// Assigned only when set: a nil *T in an interface is not nil.
	if s.Stdout != nil {
		opts.stdout = s.Stdout
	}
	if s.Stderr != nil {
		opts.stderr = s.Stderr
	}
	code, err := rt.execInContainer(ctx, containerID, opts)
	closeAll(s.Stdout, s.Stderr)
	if err != nil {
		return fmt.Errorf("failed to exec in container: %w", err)
	}
	if code != 0 {
		// The text after "command terminated with non-zero exit code: " in
		// the stream's status, as os/exec words it.
		return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
	}
	return nil
}

// execSync runs cmd and returns its output and exit code, for ExecSync.
func (rt *Runtime) execSync(ctx context.Context, containerID string, cmd []string, timeout time.Duration) (*runtimeapi.ExecSyncResponse, error) {
	stdout := &cappedBuffer{remain: maxExecSyncOutput}
	stderr := &cappedBuffer{remain: maxExecSyncOutput}
	code, err := rt.execInContainer(ctx, containerID, execOptions{cmd: cmd, stdout: stdout, stderr: stderr, timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("failed to exec in container: %w", err)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: stdout.buf, Stderr: stderr.buf, ExitCode: int32(code)}, nil
}

// execInContainer runs one exec in a running container and returns its exit
// code. Like containerd's execInternal, it ends the command when ctx ends
// (hanging it up) or the timeout expires (killing it), and then answers an
// error instead of an exit code.
func (rt *Runtime) execInContainer(ctx context.Context, id string, opts execOptions) (int, error) {
	c, err := rt.getContainer(id)
	if err != nil {
		return 0, fmt.Errorf("failed to find container %q in store: %w", id, err)
	}
	if len(opts.cmd) == 0 {
		return 0, fmt.Errorf("no command to execute: %w", errInvalidArgument)
	}
	execID := newID()
	p, err := c.startExec(execID, procSpec{argv: opts.cmd, tty: opts.tty, stdin: opts.stdin != nil, size: initialSize(opts.resize), sessions: rt.sessions()})
	if err != nil {
		return 0, err
	}
	defer c.endExec(p)
	trace.SpanFromContext(ctx).AddEvent(tracing.PhaseStarted, trace.WithAttributes(attribute.Int("process.pid", p.pid)))
	rt.log.DebugContext(ctx, "exec started", "container", c.id, "exec", execID, "cmd", opts.cmd, "pid", p.pid)

	var pumps sync.WaitGroup
	var sources []io.ReadCloser
	var reads []*watchedReader
	copyOut := func(dst io.Writer, src io.ReadCloser) {
		if dst == nil {
			dst = io.Discard
		}
		sources = append(sources, src)
		r := &watchedReader{r: src}
		reads = append(reads, r)
		pumps.Add(1)
		go func() {
			defer pumps.Done()
			if _, err := io.Copy(dst, r); err != nil {
				// The client is gone: keep the command from blocking on
				// a full pipe until it is killed.
				io.Copy(io.Discard, r)
			}
		}()
	}
	copyOut(opts.stdout, p.stdout)
	if p.stderr != nil {
		copyOut(opts.stderr, p.stderr)
	}
	if opts.stdin != nil {
		// Not waited for: it may block reading a client that sends nothing
		// more, until the session ends.
		var dst io.Writer = p.stdin
		if f, ok := p.stdin.(*os.File); ok && !opts.tty {
			dst = &growingWriter{f: f}
		}
		go func() {
			io.Copy(dst, opts.stdin)
			if !opts.tty {
				p.stdin.Close() // EOF for the command; a terminal stays open
			}
		}()
	}
	done := make(chan struct{})
	defer close(done)
	if opts.tty {
		go resizeLoop(done, opts.resize, p.pty)
	}

	exited := make(chan int, 1)
	go func() { exited <- p.wait() }()
	var timeout <-chan time.Time
	if opts.timeout > 0 {
		timer := time.NewTimer(opts.timeout)
		defer timer.Stop()
		timeout = timer.C
	}
	var code int
	select {
	case code = <-exited:
	case <-ctx.Done():
		code, err = hangUp(p, exited), ctx.Err()
	case <-timeout:
		p.kill()
		<-exited
		err = fmt.Errorf("timeout %v exceeded: %w", opts.timeout, context.DeadlineExceeded)
	}
	drainExec(&pumps, sources, reads)
	p.closeStdio()
	rt.log.DebugContext(ctx, "exec ended", "container", c.id, "exec", execID, "exitCode", code, "err", err)
	return code, err
}

// drainExec is drain for a finished exec's output, which a client may be
// slow to take: a copy blocked on the client is waited for, however long,
// as containerd waits for an exec's IO; only a read that has waited
// outputDrainTimeout for data is cut short, which is a process that
// escaped the session holding the pipe. (A copy cut short while the pipe
// still held output would lose it, and the exec would still succeed.)
func drainExec(pumps *sync.WaitGroup, sources []io.ReadCloser, reads []*watchedReader) {
	done := make(chan struct{})
	go func() {
		pumps.Wait()
		close(done)
	}()
	tick := time.NewTicker(outputDrainTimeout / 20)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		for i, r := range reads {
			if r.waiting() < outputDrainTimeout {
				continue
			}
			if f, ok := sources[i].(interface{ SetReadDeadline(time.Time) error }); !ok || f.SetReadDeadline(time.Now()) != nil {
				sources[i].Close()
			}
		}
	}
}

// hangupGrace is how long an exec whose client went away has, once it got
// SIGHUP, before its session is killed.
const hangupGrace = 2 * time.Second

// hangUp ends an exec whose client went away as a terminal hang-up ends a
// login session: SIGHUP, and SIGCONT for a stopped job, to the process
// group, so that a shell can save its history and a command can clean up;
// past hangupGrace, SIGKILL to the whole session, so that nothing outlives
// the session either way. It returns the exit code. (containerd kills at
// once with SIGKILL; kubelet and the streaming server only cancel.)
func hangUp(p *process, exited <-chan int) int {
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGCONT} {
		if err := p.signal(sig); err != nil {
			p.kill()
			return <-exited
		}
	}
	grace := time.NewTimer(hangupGrace)
	defer grace.Stop()
	select {
	case code := <-exited:
		return code
	case <-grace.C:
		p.kill()
		return <-exited
	}
}

// startExec starts an exec's process in the container's environment, TERM
// set for a terminal as containerd does, and counts it among the container's
// execs so that the container's end kills it.
func (c *container) startExec(execID string, spec procSpec) (*process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state := c.stateLocked(); state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return nil, fmt.Errorf("container is in %s state", state)
	}
	spec.env, spec.dir, spec.files = c.env, c.wd, c.files
	if spec.tty {
		spec.env = append(slices.Clone(c.env), "TERM=xterm")
	}
	p, err := startProcess(spec)
	if err != nil {
		return nil, fmt.Errorf("failed to start exec %q: %w", execID, err)
	}
	c.execs[p] = struct{}{}
	return p, nil
}

func (c *container) endExec(p *process) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.execs, p)
}

// initialSize is the terminal size the command starts with: the first the
// client sends, waited for firstSizeWait at most (a client sends it as
// soon as its streams are up), or a later one already queued behind it.
// Upstream's runtimes start the command at once and apply the size after
// it, a race that `stty size` loses now and then by reading 0 0.
func initialSize(resize <-chan streaming.TerminalSize) *pty.Winsize {
	if resize == nil {
		return nil
	}
	var ws *pty.Winsize
	take := func(sz streaming.TerminalSize) {
		if validSize(sz) {
			ws = &pty.Winsize{Rows: sz.Height, Cols: sz.Width}
		}
	}
	timer := time.NewTimer(firstSizeWait)
	defer timer.Stop()
	select {
	case sz, ok := <-resize:
		if !ok {
			return nil
		}
		take(sz)
	case <-timer.C:
		return nil
	}
	for {
		select {
		case sz, ok := <-resize:
			if !ok {
				return ws
			}
			take(sz)
		default:
			return ws
		}
	}
}

// firstSizeWait bounds how long a TTY exec waits for the client's first
// terminal size before it starts without one.
const firstSizeWait = 500 * time.Millisecond

// validSize ignores empty sizes, as containerd's handleResizing does.
func validSize(sz streaming.TerminalSize) bool {
	return sz.Width > 0 && sz.Height > 0
}

// resizeLoop applies each size from resize to the terminal whose master is
// term, until done or resize is closed.
func resizeLoop(done <-chan struct{}, resize <-chan streaming.TerminalSize, term *os.File) {
	for {
		select {
		case <-done:
			return
		case sz, ok := <-resize:
			if !ok {
				return
			}
			if validSize(sz) {
				setTerminalSize(term, sz.Width, sz.Height)
			}
		}
	}
}

// cappedBuffer keeps the first remain bytes written to it and drops the
// rest without failing, as containerd's cappedWriter.
type cappedBuffer struct {
	buf    []byte
	remain int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	n := min(len(p), b.remain)
	b.buf = append(b.buf, p[:n]...)
	b.remain -= n
	return len(p), nil
}
