package streaming

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	apiremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/internal/testutil"
)

// sizeQueue is a remotecommand.TerminalSizeQueue that yields sizes, then
// blocks until the test ends.
type sizeQueue struct {
	sizes chan *remotecommand.TerminalSize
	done  chan struct{}
}

func newSizeQueue(t testing.TB, sizes ...remotecommand.TerminalSize) *sizeQueue {
	q := &sizeQueue{sizes: make(chan *remotecommand.TerminalSize, len(sizes)), done: make(chan struct{})}
	for i := range sizes {
		q.sizes <- &sizes[i]
	}
	t.Cleanup(func() { close(q.done) })
	return q
}

func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case size := <-q.sizes:
		return size
	case <-q.done:
		return nil
	}
}

// session describes one exec for runExec.
type session struct {
	cmd    []string
	stdin  io.Reader
	tty    bool
	sizes  []remotecommand.TerminalSize
	stderr bool // ask for stderr (never with a TTY)
}

// runExec runs sess on s through the executor newExecutor returns for the
// exec URL, and returns what the client saw.
func runExec(t testing.TB, s *Server, newExecutor func(testing.TB, string) remotecommand.Executor, sess session) (stdout, stderr string, err error) {
	t.Helper()
	url := execURL(t, s, sess.tty, sess.stdin != nil, true, sess.stderr, sess.cmd...)
	var out, errOut bytes.Buffer
	opts := remotecommand.StreamOptions{Stdin: sess.stdin, Stdout: &out, Tty: sess.tty}
	if sess.stderr {
		opts.Stderr = &errOut
	}
	if sess.tty {
		opts.TerminalSizeQueue = newSizeQueue(t, sess.sizes...)
	}
	err = newExecutor(t, url).StreamWithContext(testContext(t), opts)
	return out.String(), errOut.String(), err
}

// exitOutcome is how a client version reports `exit 3`.
type exitOutcome struct {
	message  string // the error's text; "" for no error
	exitCode bool   // the error is an exec.ExitError carrying 3
}

var (
	// v4+: the status carries the code and client-go words the error itself.
	exitV4 = exitOutcome{"command terminated with exit code 3", true}
	// v2, v3: the error stream carries the server's message as text.
	exitV2 = exitOutcome{"error executing remote command: command terminated with non-zero exit code: exit status 3", false}
	// v1: the server resets the error stream before the command ends.
	exitV1 = exitOutcome{}
)

func (want exitOutcome) check(t testing.TB, err error) {
	t.Helper()
	if want.message == "" {
		if err != nil {
			t.Fatalf("exit 3: got error %v, want none (the protocol cannot tell)", err)
		}
		return
	}
	if err == nil || err.Error() != want.message {
		t.Fatalf("exit 3: got error %v, want %q", err, want.message)
	}
	var exitErr utilexec.ExitError
	isExit := errors.As(err, &exitErr)
	if isExit != want.exitCode || (isExit && exitErr.ExitStatus() != 3) {
		t.Fatalf("exit 3: got %#v, want an ExitError with status 3: %v", err, want.exitCode)
	}
}

// testExec runs the same sessions through one client protocol.
func testExec(t *testing.T, newExecutor func(testing.TB, string) remotecommand.Executor, exit exitOutcome, resize, stdinEOF bool) {
	s := newTestServer(t, localRuntime{})

	t.Run("echo", func(t *testing.T) {
		stdout, _, err := runExec(t, s, newExecutor, session{cmd: []string{"echo", "hello"}})
		if err != nil || stdout != "hello\n" {
			t.Fatalf("got %q, %v; want \"hello\\n\", no error", stdout, err)
		}
	})

	t.Run("exit 3", func(t *testing.T) {
		stdout, stderr, err := runExec(t, s, newExecutor, session{
			cmd:    []string{"sh", "-c", "echo out; echo err >&2; exit 3"},
			stderr: true,
		})
		if stdout != "out\n" || stderr != "err\n" {
			t.Errorf("got stdout %q, stderr %q; want \"out\\n\", \"err\\n\"", stdout, stderr)
		}
		exit.check(t, err)
	})

	t.Run("cat 10MiB", func(t *testing.T) {
		if !stdinEOF {
			t.Skip("the protocol cannot end stdin: cat would never exit (issues.k8s.io/13394)")
		}
		data := make([]byte, 10<<20)
		rand.Read(data)
		stdout, _, err := runExec(t, s, newExecutor, session{cmd: []string{"cat"}, stdin: bytes.NewReader(data)})
		if err != nil || stdout != string(data) {
			t.Fatalf("got %d bytes (equal: %v), %v; want the %d bytes sent", len(stdout), stdout == string(data), err, len(data))
		}
	})

	t.Run("tty", func(t *testing.T) {
		want := "40 100\r\n"
		if !resize {
			want = "24 80\r\n" // the runtime's default: no resize stream
		}
		stdout, _, err := runExec(t, s, newExecutor, session{
			cmd:   []string{"stty", "size"},
			tty:   true,
			sizes: []remotecommand.TerminalSize{{Width: 100, Height: 40}},
		})
		if err != nil || stdout != want {
			t.Fatalf("got %q, %v; want %q", stdout, err, want)
		}
	})
}

// TestExecSPDY drives every SPDY protocol version, each offered alone, with
// client-go's executor.
func TestExecSPDY(t *testing.T) {
	for _, tc := range []struct {
		protocol         string
		exit             exitOutcome
		resize, stdinEOF bool
	}{
		{apiremotecommand.StreamProtocolV5Name, exitV4, true, true},
		{apiremotecommand.StreamProtocolV4Name, exitV4, true, true},
		{apiremotecommand.StreamProtocolV3Name, exitV2, true, true},
		{apiremotecommand.StreamProtocolV2Name, exitV2, false, true},
		{apiremotecommand.StreamProtocolV1Name, exitV1, false, false},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			newExecutor := func(t testing.TB, url string) remotecommand.Executor {
				return spdyExecutor(t, url, tc.protocol)
			}
			testExec(t, newExecutor, tc.exit, tc.resize, tc.stdinEOF)
		})
	}
}

// TestExecWebSocket drives v5.channel.k8s.io with client-go's WebSocket
// executor, which ends stdin with the CLOSE signal.
func TestExecWebSocket(t *testing.T) {
	testutil.CheckGoroutines(t)
	testExec(t, webSocketExecutor, exitV4, true, true)

	t.Run("wc -c", func(t *testing.T) {
		s := newTestServer(t, localRuntime{})
		stdout, _, err := runExec(t, s, webSocketExecutor, session{cmd: []string{"wc", "-c"}, stdin: strings.NewReader("hello")})
		if err != nil || strings.TrimSpace(stdout) != "5" {
			t.Fatalf("got %q, %v; want 5", stdout, err)
		}
	})
}

// TestAttach attaches over both transports: the runtime echoes stdin, and
// its failure is an internal error, never an exit code.
func TestAttach(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	for _, tc := range []struct {
		name        string
		newExecutor func(testing.TB, string) remotecommand.Executor
	}{
		{"spdy", func(t testing.TB, url string) remotecommand.Executor {
			return spdyExecutor(t, url, apiremotecommand.StreamProtocolV4Name)
		}},
		{"websocket", webSocketExecutor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, container := range []string{"c1", "broken"} {
				resp, err := s.GetAttach(context.Background(), &runtimeapi.AttachRequest{ContainerId: container, Stdin: true, Stdout: true})
				if err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				err = tc.newExecutor(t, resp.Url).StreamWithContext(testContext(t), remotecommand.StreamOptions{
					Stdin: strings.NewReader("attached\n"), Stdout: &out,
				})
				switch container {
				case "c1":
					if err != nil || out.String() != "attached\n" {
						t.Errorf("attach: got %q, %v; want the input echoed", out.String(), err)
					}
				case "broken":
					want := "Internal error occurred: error attaching to container: container is not running"
					if err == nil || err.Error() != want {
						t.Errorf("attach to broken: got %v, want %q", err, want)
					}
				}
			}
		})
	}
}
