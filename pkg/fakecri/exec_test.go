package fakecri

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/pkg/streaming"
)

func TestExecSync(t *testing.T) {
	t.Setenv("FAKECRI_OWN", "not for containers")
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	cfg := containerConfig("p", "c", "sleep", "1000")
	cfg.Envs = []*runtimeapi.KeyValue{{Key: "FOO", Value: []byte("bar")}, {Key: "PATH", Value: []byte("/usr/bin:/bin")}}
	id := e.create(sb, "p", cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	workDir := filepath.Join(e.root, containersDir, id, workDirName)
	verbose, err := e.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id, Verbose: true})
	if err != nil {
		t.Fatal(err)
	}
	wantInfo := `{"sandboxID":"` + sb + `","pid":` + strconv.Itoa(e.pid(id)) + `,"workingDir":"` + workDir + `","config":{"metadata":{"name":"c"},`
	if !strings.HasPrefix(verbose.Info["info"], wantInfo) || len(verbose.Info) != 1 {
		t.Errorf("verbose info %q, want it to start with %q", verbose.Info, wantInfo)
	}
	hostname, _ := os.Hostname()
	home, _ := os.UserHomeDir()

	for _, tc := range []struct {
		name           string
		cmd            []string
		stdout, stderr string
		code           int32
	}{
		{"exit codes", []string{"sh", "-c", "echo out; echo err >&2; exit 7"}, "out\n", "err\n", 7},
		{"success", []string{"echo", "hello", "world"}, "hello world\n", "", 0},
		{"environment", []string{"sh", "-c", `echo "$FOO|$PATH|$HOSTNAME"; test -z "$TERM"`}, "bar|/usr/bin:/bin|" + hostname + "\n", "", 0},
		{"home", []string{"sh", "-c", `echo "$HOME"`}, home + "\n", "", 0},
		{"nothing inherited", []string{"sh", "-c", `echo "[$FAKECRI_OWN]"`}, "[]\n", "", 0},
		{"working directory", []string{"pwd"}, workDir + "\n", "", 0},
		{"no stdin", []string{"cat"}, "", "", 0},
		{"killed by a signal", []string{"sh", "-c", "kill -9 $$"}, "", "", 137},
		{"binary by path", []string{"/bin/sh", "-c", "exit 0"}, "", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id[:10], Cmd: tc.cmd})
			if err != nil {
				t.Fatal(err)
			}
			if string(resp.Stdout) != tc.stdout || string(resp.Stderr) != tc.stderr || resp.ExitCode != tc.code {
				t.Errorf("stdout %q, stderr %q, exit code %d; want %q, %q, %d", resp.Stdout, resp.Stderr, resp.ExitCode, tc.stdout, tc.stderr, tc.code)
			}
		})
	}

	// critest's spec of this check cannot run on the fake (docs/fake-runtime.md).
	t.Run("timeout", func(t *testing.T) {
		start := time.Now()
		pidFile := filepath.Join(t.TempDir(), "pid")
		_, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "echo $$ > " + pidFile + "; exec sleep 1000"}, Timeout: 1})
		wantCode(t, err, codes.DeadlineExceeded, "failed to exec in container: timeout 1s exceeded: context deadline exceeded")
		if d := time.Since(start); d < time.Second {
			t.Errorf("gave up after %v", d)
		}
		// The timed-out command is gone, as containerd kills it.
		waitGone(t, atoi(t, []byte(waitFile(t, pidFile, func(s string) bool { return s != "" }))))
	})
	t.Run("missing binary", func(t *testing.T) {
		_, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"nosuchbinary"}})
		wantCodeRE(t, err, codes.Unknown, `^failed to exec in container: failed to start exec "[0-9a-f]{64}": exec: "nosuchbinary": executable file not found in \$PATH$`)
		_, err = e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"/no/such/binary"}})
		wantCodeRE(t, err, codes.Unknown, `^failed to exec in container: failed to start exec "[0-9a-f]{64}": exec: "/no/such/binary": stat /no/such/binary: no such file or directory$`)
		notExecutable := filepath.Join(workDir, "data.txt")
		if err := os.WriteFile(notExecutable, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err = e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"./data.txt"}})
		wantCodeRE(t, err, codes.Unknown, `^failed to exec in container: failed to start exec "[0-9a-f]{64}": exec: "./data.txt": permission denied$`)
	})
	t.Run("no command", func(t *testing.T) {
		_, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id})
		wantCode(t, err, codes.InvalidArgument, "failed to exec in container: no command to execute: invalid argument")
	})
	t.Run("output cap", func(t *testing.T) {
		// kubelet's CRI client takes messages up to 16 MiB; this one is a
		// little more.
		resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"head", "-c", "17000000", "/dev/zero"}},
			grpc.MaxCallRecvMsgSize(maxExecSyncOutput+1024))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Stdout) != maxExecSyncOutput || resp.ExitCode != 0 {
			t.Errorf("%d bytes of stdout, exit code %d", len(resp.Stdout), resp.ExitCode)
		}
	})

	// A background process an exec leaves behind is killed with it.
	resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"sh", "-c", "sleep 1000 >/dev/null & echo $!"}})
	if err != nil {
		t.Fatal(err)
	}
	waitGone(t, atoi(t, resp.Stdout))

	if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	_, err = e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"true"}})
	wantCode(t, err, codes.Unknown, "failed to exec in container: container is in CONTAINER_EXITED state")
}

func atoi(t *testing.T, b []byte) int {
	t.Helper()
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestExecStreams drives the Runtime's Exec as pkg/streaming does.
func TestExecStreams(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	id := e.run(sb, "p", "c", "sleep", "1000")

	t.Run("stdin and exit code", func(t *testing.T) {
		stdout, stderr := newPipeStream(), newPipeStream()
		err := e.rt.Exec(ctx, id, []string{"sh", "-c", "cat; echo err >&2; exit 3"}, streaming.Streams{
			Stdin: strings.NewReader("through stdin\n"), Stdout: stdout, Stderr: stderr,
		})
		var exitErr utilexec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 || err.Error() != "exit status 3" {
			t.Errorf("error %v (%T), want exit status 3", err, err)
		}
		if _, direct := err.(utilexec.ExitError); !direct {
			t.Errorf("%T is not itself an ExitError: the streaming server asserts the type", err)
		}
		if stdout.String() != "through stdin\n" || stderr.String() != "err\n" || !stdout.isClosed() || !stderr.isClosed() {
			t.Errorf("stdout %q (closed %v), stderr %q (closed %v)", stdout, stdout.isClosed(), stderr, stderr.isClosed())
		}
	})
	t.Run("success", func(t *testing.T) {
		stdout := newPipeStream()
		if err := e.rt.Exec(ctx, id, []string{"echo", "hi"}, streaming.Streams{Stdout: stdout}); err != nil || stdout.String() != "hi\n" {
			t.Errorf("stdout %q, error %v", stdout, err)
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		err := e.rt.Exec(ctx, id, []string{"nosuchbinary"}, streaming.Streams{Stdout: newPipeStream()})
		var exitErr utilexec.ExitError
		if err == nil || errors.As(err, &exitErr) || !strings.HasSuffix(err.Error(), `exec: "nosuchbinary": executable file not found in $PATH`) {
			t.Errorf("error %v, want a plain error", err)
		}
	})
	t.Run("client leaves", func(t *testing.T) {
		stdout := newPipeStream()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() {
			done <- e.rt.Exec(cctx, id, []string{"sh", "-c", "echo $$; exec sleep 1000"}, streaming.Streams{Stdout: stdout})
		}()
		stdout.waitFor(t, "\n")
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		waitGone(t, atoi(t, []byte(stdout.String())))
	})
	// A client that leaves hangs the command up: SIGHUP first, which a
	// command may handle; SIGKILL for one that ignores it.
	t.Run("client leaves: SIGHUP", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "hup")
		stdout := newPipeStream()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() {
			done <- e.rt.Exec(cctx, id, []string{"sh", "-c", `trap 'echo hup > "$0"; exit 0' HUP; echo $$; while :; do sleep 1; done`, marker},
				streaming.Streams{Stdout: stdout})
		}()
		stdout.waitFor(t, "\n")
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		if b, err := os.ReadFile(marker); err != nil || string(b) != "hup\n" {
			t.Errorf("the shell's HUP trap wrote %q, %v", b, err)
		}
		waitGone(t, atoi(t, []byte(stdout.String())))
	})
	t.Run("client leaves: SIGHUP ignored", func(t *testing.T) {
		stdout := newPipeStream()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() {
			done <- e.rt.Exec(cctx, id, []string{"sh", "-c", `trap '' HUP; echo $$; exec sleep 1000`}, streaming.Streams{Stdout: stdout})
		}()
		stdout.waitFor(t, "\n")
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled", err)
		}
		waitGone(t, atoi(t, []byte(stdout.String())))
	})
	// The command ends while its last output waits on a client that reads
	// slowly, longer than outputDrainTimeout: the exec waits, and the
	// client gets every byte before the exec says it succeeded.
	t.Run("lagging client", func(t *testing.T) {
		const n = 150000
		stdout := &laggingStream{pipeStream: newPipeStream(), after: 100000, lag: outputDrainTimeout + time.Second}
		err := e.rt.Exec(ctx, id, []string{"head", "-c", strconv.Itoa(n), "/dev/zero"}, streaming.Streams{Stdout: stdout})
		if got := len(stdout.String()); err != nil || got != n {
			t.Errorf("the client got %d of %d bytes, error %v", got, n, err)
		}
	})
	// A process that left the exec's session keeps its stdout open: the
	// exec still ends, outputDrainTimeout after its command.
	t.Run("escaped process", func(t *testing.T) {
		stdout := newPipeStream()
		start := time.Now()
		// The shell ends only once the background process has left the
		// session (it writes its pid from there), so the shell's end
		// cannot kill it first.
		f := filepath.Join(t.TempDir(), "pid")
		script := "setsid sh -c 'echo $$ > " + f + "; exec sleep 1000' & while [ ! -s " + f + " ]; do sleep 0.01; done; cat " + f
		err := e.rt.Exec(ctx, id, []string{"sh", "-c", script}, streaming.Streams{Stdout: stdout})
		if pid, perr := strconv.Atoi(strings.TrimSpace(stdout.String())); perr == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		// Only the lower bound: the exec must not end before the drain
		// timeout (speed lives in benchmarks); that it ends at all is the
		// test.
		if took := time.Since(start); err != nil || took < outputDrainTimeout {
			t.Errorf("the exec ended after %v, error %v; want after the command and outputDrainTimeout", took, err)
		}
	})
	t.Run("tty", func(t *testing.T) {
		resize := make(chan streaming.TerminalSize, 4)
		resize <- streaming.TerminalSize{Width: 100, Height: 40} // queued before the start
		stdinR, stdinW := io.Pipe()
		stdout := newPipeStream()
		done := make(chan error)
		go func() {
			done <- e.rt.Exec(ctx, id, []string{"sh", "-c", `stty size; echo "$TERM"; read line; stty size; test -t 0 && test -t 2`},
				streaming.Streams{Stdin: stdinR, Stdout: stdout, TTY: true, Resize: resize})
		}()
		stdout.waitFor(t, "40 100\r\nxterm\r\n")
		resize <- streaming.TerminalSize{} // ignored, as containerd does
		resize <- streaming.TerminalSize{Width: 120, Height: 50}
		// The resize is applied before the line is read; a TTY echoes input.
		waitSize(t, e, id)
		io.WriteString(stdinW, "go\n")
		if err := <-done; err != nil {
			t.Errorf("tty exec: %v", err)
		}
		if want := "40 100\r\nxterm\r\ngo\r\n50 120\r\n"; stdout.String() != want {
			t.Errorf("terminal output %q, want %q", stdout, want)
		}
		stdinW.Close() // the session ends: its stdin copy ends too
		close(resize)
	})
}

// laggingStream is a client that stops reading for lag once it has after
// bytes.
type laggingStream struct {
	*pipeStream
	after  int
	lag    time.Duration
	n      int
	lagged bool
}

func (l *laggingStream) Write(b []byte) (int, error) {
	l.n += len(b)
	if l.n > l.after && !l.lagged {
		l.lagged = true
		time.Sleep(l.lag)
	}
	return l.pipeStream.Write(b)
}

// waitSize waits until the only TTY exec of container id has 50 rows: the
// resize loop applies sizes asynchronously.
func waitSize(t *testing.T, e *env, id string) {
	t.Helper()
	c, _ := e.rt.getContainer(id)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		var rows int
		for p := range c.execs {
			if p.pty != nil {
				rows, _, _ = getTerminalSize(p.pty)
			}
		}
		c.mu.Unlock()
		if rows == 50 {
			return
		}
	}
	t.Fatal("terminal never resized")
}

// TestStreamingRPCs checks what Exec and Attach validate before they hand
// the request to the streaming server, and that it gets the full ID.
func TestStreamingRPCs(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	id := e.run(sb, "p", "c", "sleep", "1000")
	resp, err := e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id[:7], Cmd: []string{"sh"}, Stdin: true, Stdout: true, Tty: true})
	if err != nil || resp.Url != "http://127.0.0.1:1/exec/"+id {
		t.Errorf("Exec: %v, %v", resp, err)
	}
	e.streams.mu.Lock()
	got := e.streams.execs[0]
	e.streams.mu.Unlock()
	if got.ContainerId != id || !got.Tty || !got.Stdin || !got.Stdout || got.Stderr || len(got.Cmd) != 1 {
		t.Errorf("the streaming server got %v", got)
	}
	_, err = e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Stdout: true})
	wantCode(t, err, codes.InvalidArgument, "no command to execute: invalid argument")
	a, err := e.rs.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id[:9], Stdout: true})
	if err != nil || a.Url != "http://127.0.0.1:1/attach/"+id {
		t.Errorf("Attach: %v, %v", a, err)
	}
	created := e.create(sb, "p", containerConfig("p", "created", "true"))
	_, err = e.rs.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: created, Stdout: true})
	wantCode(t, err, codes.Unknown, "container is in CONTAINER_CREATED state")
	_, err = e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: created, Cmd: []string{"true"}, Stdout: true})
	wantCode(t, err, codes.Unknown, "container is in CONTAINER_CREATED state")
}

// TestInitialSize: a TTY exec starts at the client's first size, which it
// waits for a while; a later size already queued wins; no size at all
// starts it without one after the wait.
func TestInitialSize(t *testing.T) {
	sizes := make(chan streaming.TerminalSize, 2)
	go func() {
		time.Sleep(50 * time.Millisecond)
		sizes <- streaming.TerminalSize{Width: 100, Height: 40}
	}()
	if ws := initialSize(sizes); ws == nil || ws.Rows != 40 || ws.Cols != 100 {
		t.Errorf("a size sent 50 ms late: %+v, want 40x100", ws)
	}
	sizes <- streaming.TerminalSize{Width: 80, Height: 24}
	sizes <- streaming.TerminalSize{Width: 120, Height: 50}
	if ws := initialSize(sizes); ws == nil || ws.Rows != 50 || ws.Cols != 120 {
		t.Errorf("two sizes queued: %+v, want the later, 50x120", ws)
	}
	start := time.Now()
	if ws := initialSize(make(chan streaming.TerminalSize)); ws != nil || time.Since(start) < firstSizeWait {
		t.Errorf("no size: %+v after %v, want none after %v", ws, time.Since(start), firstSizeWait)
	}
}
