package kubelet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	clientexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// streamRuntime runs "commands" for upstream's streaming server:
// cat echoes stdin, both writes to stdout and stderr, exit N fails with N.
type streamRuntime struct{}

func (streamRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	switch cmd[0] {
	case "cat":
		_, err := io.Copy(out, in)
		return err
	case "both":
		fmt.Fprintf(out, "out of %s", id)
		fmt.Fprint(errw, "err")
		return nil
	case "exit":
		code, _ := strconv.Atoi(cmd[1])
		return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
	}
	return fmt.Errorf("unknown command %q", cmd[0])
}

func (streamRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	_, err := io.Copy(out, in)
	return err
}

func (streamRuntime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	fmt.Fprintf(stream, "%s:%d ", sandboxID, port)
	_, err := io.Copy(stream, stream)
	return err
}

// serveStreaming starts upstream's CRI streaming server and makes the fake
// runtime answer Exec, Attach and PortForward with its URLs.
func serveStreaming(t *testing.T, f *fakeCRI) {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Start()
	t.Cleanup(ts.Close)
	cfg := streaming.DefaultConfig
	cfg.Addr = ts.Listener.Addr().String()
	cfg.BaseURL, _ = url.Parse(ts.URL)
	srv, err := streaming.NewServer(cfg, streamRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stream = func(req proto.Message) (string, error) {
		switch req := req.(type) {
		case *runtimeapi.ExecRequest:
			resp, err := srv.GetExec(req)
			return resp.GetUrl(), err
		case *runtimeapi.AttachRequest:
			resp, err := srv.GetAttach(req)
			return resp.GetUrl(), err
		case *runtimeapi.PortForwardRequest:
			resp, err := srv.GetPortForward(req)
			return resp.GetUrl(), err
		}
		return "", fmt.Errorf("unexpected %T", req)
	}
}

func (e *testEnv) setStream(stream func(proto.Message) (string, error)) {
	e.cri.mu.Lock()
	defer e.cri.mu.Unlock()
	e.cri.stream = stream
}

// exec runs a command through the kubelet as the apiserver would (the
// kubelet's query form) and returns its output.
func (e *testEnv) exec(executor func(u string) (remotecommand.Executor, error), path, stdin string, tty bool) (string, string, error) {
	e.t.Helper()
	exec, err := executor(e.base + path)
	if err != nil {
		e.t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: tty}
	if !tty {
		opts.Stderr = &stderr
	}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	err = exec.StreamWithContext(context.Background(), opts)
	return stdout.String(), stderr.String(), err
}

func spdyExecutor(u string) (remotecommand.Executor, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return nil, err
	}
	return remotecommand.NewSPDYExecutor(&rest.Config{}, http.MethodPost, parsed)
}

func webSocketExecutor(u string) (remotecommand.Executor, error) {
	return remotecommand.NewWebSocketExecutor(&rest.Config{}, http.MethodGet, u)
}

func TestExec(t *testing.T) {
	e := newEnv(t)
	serveStreaming(t, e.cri)
	e.createPod(newTestPod("web"))
	e.waitPod("web", "running", running)
	id := e.cri.running("c")[0]

	for _, tc := range []struct {
		name     string
		executor func(string) (remotecommand.Executor, error)
	}{
		{"spdy", spdyExecutor},
		// v5 WebSocket, translated to SPDY by the kubelet.
		{"websocket", webSocketExecutor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.cri.callsOf("Exec"))
			out, _, err := e.exec(tc.executor, "/exec/default/web/c?command=cat&input=1&output=1&error=1", "ping\x00pong", false)
			if err != nil || out != "ping\x00pong" {
				t.Fatalf("cat: %q, %v", out, err)
			}
			reqs := e.cri.callsOf("Exec")
			if len(reqs) != before+1 {
				t.Fatalf("%d Exec calls", len(reqs)-before)
			}
			assertProto(t, "exec request", reqs[before], &runtimeapi.ExecRequest{
				ContainerId: id, Cmd: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true,
			})

			out, errOut, err := e.exec(tc.executor, "/exec/default/web/uid-web/c?command=both&output=true&error=True", "", false)
			if err != nil || out != "out of "+id || errOut != "err" {
				t.Errorf("both, by pod UID: %q %q %v", out, errOut, err)
			}

			_, _, err = e.exec(tc.executor, "/exec/default/web/c?command=exit&command=3&output=1&error=1", "", false)
			var exitErr clientexec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
				t.Errorf("exit 3: %v (%T)", err, err)
			}
		})
	}

	// A terminal merges stderr into stdout: the kubelet drops error=1.
	before := len(e.cri.callsOf("Exec"))
	if out, _, err := e.exec(spdyExecutor, "/exec/default/web/c?command=cat&input=1&output=1&error=1&tty=1", "x", true); err != nil || out != "x" {
		t.Errorf("tty cat: %q %v", out, err)
	}
	assertProto(t, "tty exec request", e.cri.callsOf("Exec")[before], &runtimeapi.ExecRequest{
		ContainerId: id, Cmd: []string{"cat"}, Stdin: true, Stdout: true, Tty: true,
	})
}

func TestAttachAndPortForward(t *testing.T) {
	e := newEnv(t)
	serveStreaming(t, e.cri)
	e.createPod(newTestPod("web"))
	e.waitPod("web", "running", running)
	id := e.cri.running("c")[0]
	sandbox := e.cri.sandboxOf("uid-web")

	out, _, err := e.exec(spdyExecutor, "/attach/default/web/c?input=1&output=1&error=1", "hello", false)
	if err != nil || out != "hello" {
		t.Errorf("attach: %q %v", out, err)
	}
	assertProto(t, "attach request", e.cri.callsOf("Attach")[0], &runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true, Stderr: true})

	for _, tc := range []struct {
		name   string
		dialer func(u *url.URL) (httpstream.Dialer, error)
	}{
		{"spdy", func(u *url.URL) (httpstream.Dialer, error) {
			transport, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
			if err != nil {
				return nil, err
			}
			return spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u), nil
		}},
		// SPDY tunnelled in WebSocket, unwrapped by the kubelet.
		{"websocket", func(u *url.URL) (httpstream.Dialer, error) {
			return portforward.NewSPDYOverWebsocketDialer(u, &rest.Config{})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.cri.callsOf("PortForward"))
			u, _ := url.Parse(e.base + "/portForward/default/web")
			dialer, err := tc.dialer(u)
			if err != nil {
				t.Fatal(err)
			}
			stop, ready := make(chan struct{}), make(chan struct{})
			pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{"0:80"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- pf.ForwardPorts() }()
			defer func() {
				close(stop)
				if err := <-done; err != nil {
					t.Errorf("ForwardPorts: %v", err)
				}
			}()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("ForwardPorts: %v", err)
			}
			ports, err := pf.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write([]byte("echo"))
			want := sandbox + ":80 echo"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != want {
				t.Errorf("through the forwarded port: %q %v, want %q", got, err, want)
			}
			reqs := e.cri.callsOf("PortForward")
			if len(reqs) != before+1 {
				t.Fatalf("%d PortForward calls", len(reqs)-before)
			}
			// SPDY names the ports per stream, not in the request.
			assertProto(t, "port-forward request", reqs[before], &runtimeapi.PortForwardRequest{PodSandboxId: sandbox})
		})
	}
}

// openCat starts an exec of cat at url, which asks for stdin, stdout and
// stderr, over SPDY and checks that it echoes: the session stays open until stdinW is closed, then done has
// its result; stdoutR has what follows the echo.
func openCat(t *testing.T, url string) (stdinW *io.PipeWriter, stdoutR *io.PipeReader, done <-chan error) {
	t.Helper()
	exec, err := spdyExecutor(url)
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW := io.Pipe()
	stdoutR, stdout := io.Pipe()
	result := make(chan error, 1)
	go func() {
		result <- exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: io.Discard})
		stdout.Close()
	}()
	stdinW.Write([]byte("x"))
	got := make([]byte, 1)
	if _, err := io.ReadFull(stdoutR, got); err != nil || string(got) != "x" {
		t.Fatalf("echo: %q %v", got, err)
	}
	return stdinW, stdoutR, result
}

// TestStopEndsSessions stops the kubelet while an exec session is open:
// the session ends and nothing of it stays behind (checked by the
// goroutine count at cleanup).
func TestStopEndsSessions(t *testing.T) {
	e := newEnv(t)
	serveStreaming(t, e.cri)
	e.createPod(newTestPod("web"))
	e.waitPod("web", "running", running)
	stdinW, stdoutR, done := openCat(t, e.base+"/exec/default/web/c?command=cat&input=1&output=1&error=1")
	e.stop()
	<-done
	// The client's stdin copier waits for input that will never come.
	stdinW.Close()
	io.Copy(io.Discard, stdoutR)
}
