package streaming

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	osexec "os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// localRuntime runs commands as local processes, so that every test
// session is real: os/exec for plain streams, a pty for a TTY.
type localRuntime struct{}

func (localRuntime) Exec(ctx context.Context, _ string, cmd []string, s Streams) error {
	c := osexec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.WaitDelay = 5 * time.Second
	if s.TTY {
		return runTTY(ctx, c, s)
	}
	c.Stdout, c.Stderr = s.Stdout, s.Stderr
	if s.Stdin != nil {
		w, err := c.StdinPipe()
		if err != nil {
			return err
		}
		// Not waited for: it ends when the session closes stdin.
		go func() {
			_, _ = io.Copy(w, s.Stdin)
			_ = w.Close()
		}()
	}
	return exitError(c.Run())
}

// runTTY runs c on a pty. Like a runtime that needs a size to create the
// terminal, it waits for the client's first size (kubectl sends it first).
func runTTY(ctx context.Context, c *osexec.Cmd, s Streams) error {
	size := &pty.Winsize{Rows: 24, Cols: 80}
	if s.Resize != nil {
		select {
		case sz, ok := <-s.Resize:
			if ok {
				size = winsize(sz)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	ptmx, err := pty.StartWithSize(c, size)
	if err != nil {
		return err
	}
	defer ptmx.Close()
	if s.Resize != nil {
		go func() {
			for sz := range s.Resize {
				_ = pty.Setsize(ptmx, winsize(sz))
			}
		}()
	}
	if s.Stdin != nil {
		go func() { _, _ = io.Copy(ptmx, s.Stdin) }()
	}
	var output sync.WaitGroup
	if s.Stdout != nil {
		output.Go(func() { _, _ = io.Copy(s.Stdout, ptmx) }) // ends with EIO once the process is gone
	}
	err = c.Wait()
	output.Wait()
	return exitError(err)
}

func winsize(sz TerminalSize) *pty.Winsize { return &pty.Winsize{Rows: sz.Height, Cols: sz.Width} }

// exitError reports a non-zero exit as k8s.io/utils/exec wants it.
func exitError(err error) error {
	var ee *osexec.ExitError
	if errors.As(err, &ee) && ee.Exited() {
		return utilexec.CodeExitError{Err: err, Code: ee.ExitCode()}
	}
	return err
}

// Attach echoes stdin to stdout; container "broken" fails at once.
func (localRuntime) Attach(_ context.Context, containerID string, s Streams) error {
	if containerID == "broken" {
		return errors.New("container is not running")
	}
	_, err := io.Copy(s.Stdout, s.Stdin)
	return err
}

func (localRuntime) PortForward(ctx context.Context, _ string, port int32, stream io.ReadWriteCloser) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port))))
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	go func() {
		_, _ = io.Copy(conn, stream)
		_ = conn.(*net.TCPConn).CloseWrite()
	}()
	_, err = io.Copy(stream, conn)
	return err
}

// newTestServer starts a server for rt and closes it when the test ends.
func newTestServer(t testing.TB, rt Runtime) *Server {
	t.Helper()
	return newConfiguredServer(t, Config{}, rt)
}

// newConfiguredServer is newTestServer with a configuration.
func newConfiguredServer(t testing.TB, cfg Config, rt Runtime) *Server {
	t.Helper()
	s, err := NewServer(cfg, rt)
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve() }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s
}

// execURL asks s for an exec of cmd with the given streams.
func execURL(t testing.TB, s *Server, tty, stdin, stdout, stderr bool, cmd ...string) string {
	t.Helper()
	resp, err := s.GetExec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: cmd, Tty: tty, Stdin: stdin, Stdout: stdout, Stderr: stderr})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Url
}

// spdyExecutor is client-go's SPDY executor offering exactly protocols.
func spdyExecutor(t testing.TB, rawURL string, protocols ...string) remotecommand.Executor {
	t.Helper()
	transport, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := remotecommand.NewSPDYExecutorForProtocols(transport, upgrader, http.MethodPost, u, protocols...)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// webSocketExecutor is client-go's WebSocket executor (v5.channel.k8s.io).
func webSocketExecutor(t testing.TB, rawURL string) remotecommand.Executor {
	t.Helper()
	ex, err := remotecommand.NewWebSocketExecutor(&rest.Config{}, http.MethodGet, rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// testContext bounds a test's sessions so that a bug hangs no longer than
// this; it is not a speed assertion.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// echoServer accepts TCP connections on 127.0.0.1 and echoes each until
// the client half-closes it. It returns the port.
func echoServer(t testing.TB) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns sync.WaitGroup
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			conns.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		conns.Wait()
	})
	return lis.Addr().(*net.TCPAddr).Port
}

// closedPort returns a local TCP port nothing listens on.
func closedPort(t testing.TB) int {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := lis.Addr().(*net.TCPAddr).Port
	lis.Close()
	return port
}
