package minikubectl

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
	utilexec "k8s.io/utils/exec"
)

// ptyPair is a pseudo-terminal: mini-kubectl gets the terminal end as its
// stdin and stdout, the test reads what reaches the screen from the other.
type ptyPair struct {
	ptm, tty *os.File
	mu       sync.Mutex
	screen   bytes.Buffer
	done     chan struct{}
}

func newPTY(t *testing.T, rows, cols uint16) *ptyPair {
	t.Helper()
	ptm, tty, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	p := &ptyPair{ptm: ptm, tty: tty, done: make(chan struct{})}
	p.resize(t, rows, cols)
	go func() {
		defer close(p.done)
		buf := make([]byte, 4096)
		for {
			n, err := ptm.Read(buf)
			p.mu.Lock()
			p.screen.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		tty.Close()
		ptm.Close()
		<-p.done
	})
	return p
}

// control runs fn on the terminal's descriptor without Fd, which would
// make the file blocking and a read on it impossible to interrupt.
func (p *ptyPair) control(t *testing.T, fn func(fd int) error) {
	t.Helper()
	rc, err := p.tty.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	if cerr := rc.Control(func(fd uintptr) { err = fn(int(fd)) }); cerr != nil || err != nil {
		t.Fatal(cerr, err)
	}
}

func (p *ptyPair) resize(t *testing.T, rows, cols uint16) {
	p.control(t, func(fd int) error {
		return unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
	})
}

func (p *ptyPair) termios(t *testing.T) unix.Termios {
	t.Helper()
	var tios *unix.Termios
	p.control(t, func(fd int) (err error) {
		tios, err = unix.IoctlGetTermios(fd, unix.TCGETS)
		return err
	})
	return *tios
}

// waitScreen waits until the screen shows want; the test's one-minute
// limit, not a timer here, fails a screen that never shows it.
func (p *ptyPair) waitScreen(want string) string {
	for {
		p.mu.Lock()
		s := p.screen.String()
		p.mu.Unlock()
		if strings.Contains(s, want) {
			return s
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// ttyContainer reports what a program on the container's terminal sees:
// whether it has one, whether the client's terminal is raw, and the sizes
// it is given — the first ones, then one more after the client's terminal
// is resized (by the test, in the middle of the session).
func ttyContainer(t *testing.T, p *ptyPair, initialSizes int) container {
	return func(cmd []string, s containerStreams) error {
		fmt.Fprintf(s.out, "tty=%v stderr=%v", s.tty, s.errOut != nil)
		if p.termios(t).Lflag&(unix.ICANON|unix.ECHO) == 0 {
			fmt.Fprint(s.out, " raw")
		}
		for range initialSizes {
			size := <-s.resize
			fmt.Fprintf(s.out, " %dx%d", size.Width, size.Height)
		}
		p.resize(t, 40, 100)
		syscall.Kill(os.Getpid(), syscall.SIGWINCH)
		size := <-s.resize
		fmt.Fprintf(s.out, " %dx%d.", size.Width, size.Height)
		if cmd == nil {
			return nil // attach: the session just ends
		}
		return utilexec.CodeExitError{Err: fmt.Errorf("exit status 7"), Code: 7}
	}
}

// TestExecTTY runs exec -it on a pseudo-terminal: the terminal goes raw for
// the session and back afterwards, stderr is not asked for, the container
// gets the terminal's size and its resizes, and the exit code comes back.
func TestExecTTY(t *testing.T) {
	for _, protocol := range []string{"spdy", "websocket"} {
		t.Run(protocol, func(t *testing.T) {
			withGoroutineCheck(t)
			api := newFakeAPI(t)
			api.addPod(runningPod("demo", "main"))
			p := newPTY(t, 24, 80)
			api.useContainer(ttyContainer(t, p, 1))
			before := p.termios(t)

			var stderr bytes.Buffer
			code := Run(context.Background(), []string{"--kubeconfig", api.kubeconfig, "--protocol", protocol, "exec", "-it", "demo", "--", "sh"},
				IOStreams{In: p.tty, Out: p.tty, ErrOut: &stderr})

			if code != 7 || stderr.String() != "command terminated with exit code 7\n" {
				t.Errorf("exit %d, stderr %q; want 7 and the exit code line", code, stderr.String())
			}
			p.waitScreen("tty=true stderr=false raw 80x24 100x40.")
			if after := p.termios(t); after != before {
				t.Errorf("terminal not restored: %+v, was %+v", after, before)
			}
			if calls := api.recorded(); len(calls) != 1 || !strings.Contains(calls[0], "?command=sh&container=main&stdin=true&stdout=true&tty=true") {
				t.Errorf("requests %q, want stdin, stdout and tty, no stderr", calls)
			}
		})
	}
}

// TestAttachTTY attaches to a container with a terminal: first the size
// plus one, then the real size, so a program on it redraws. Attach has no
// exit code; kubectl tells how to come back.
func TestAttachTTY(t *testing.T) {
	withGoroutineCheck(t)
	api := newFakeAPI(t)
	pod := runningPod("shell", "sh")
	pod.Spec.Containers[0].Stdin, pod.Spec.Containers[0].TTY = true, true
	api.addPod(pod)
	p := newPTY(t, 24, 80)
	api.useContainer(ttyContainer(t, p, 2))

	var stderr bytes.Buffer
	code := Run(context.Background(), []string{"--kubeconfig", api.kubeconfig, "attach", "-it", "shell"},
		IOStreams{In: p.tty, Out: p.tty, ErrOut: &stderr})
	if want := "If you don't see a command prompt, try pressing enter.\n"; code != 0 || stderr.String() != want {
		t.Errorf("exit %d, stderr %q; want 0 and %q", code, stderr.String(), want)
	}
	p.waitScreen("tty=true stderr=false raw 81x25 80x24 100x40.")
	p.waitScreen("Session ended, resume using 'mini-kubectl attach shell -c sh -i -t' command when the pod is running")
	want := "GET /api/v1/namespaces/default/pods/shell/attach?container=sh&stdin=true&stdout=true&tty=true [v5.channel.k8s.io]"
	if calls := api.recorded(); len(calls) != 1 || calls[0] != want {
		t.Errorf("requests %q, want [%q]", calls, want)
	}
}

// TestAttachNoTTY follows kubectl when the terminal flags and the container
// disagree: -t on a container without a terminal is dropped with a warning,
// and a container with one gets -t even when not asked.
func TestAttachNoTTY(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("plain", "main"))
	withTTY := runningPod("withtty", "main")
	withTTY.Spec.Containers[0].TTY = true
	api.addPod(withTTY)
	api.useContainer(func(_ []string, s containerStreams) error {
		fmt.Fprintf(s.out, "tty=%v stdin=%v\n", s.tty, s.in != nil)
		return nil
	})

	r := api.run(strings.NewReader(""), "--protocol", "spdy", "attach", "-t", "plain")
	want := result{stdout: "tty=false stdin=false\n", stderr: "error: Unable to use a TTY - container main did not allocate one\nIf you don't see a command prompt, try pressing enter.\n"}
	if r != want {
		t.Errorf("-t on a container without a terminal: got %+v, want %+v", r, want)
	}
	api.resetCalls()
	r = api.run(strings.NewReader(""), "--protocol", "spdy", "attach", "-i", "withtty")
	want = result{stdout: "tty=false stdin=true\n", stderr: "Unable to use a TTY - input is not a terminal or the right kind of file\nIf you don't see a command prompt, try pressing enter.\n"}
	if r != want {
		t.Errorf("-i on a container with a terminal, stdin not one: got %+v, want %+v", r, want)
	}
	if calls := api.recorded(); len(calls) != 1 || !strings.HasSuffix(calls[0], "/attach?container=main&stderr=true&stdin=true&stdout=true") {
		t.Errorf("requests %q", calls)
	}
	r = api.run(nil, "attach", "gone")
	if want := (result{stderr: "Error from server (NotFound): pods \"gone\" not found\n", code: 1}); r != want {
		t.Errorf("unknown pod: got %+v, want %+v", r, want)
	}
}
