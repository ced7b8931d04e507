package apiserver

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	"k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"
)

// fakeKubelet is a kubelet's streaming API for tests: it records each
// request and serves exec, attach and port-forward with the upstream
// server side (k8s.io/cri-streaming), and container logs.
type fakeKubelet struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests []*http.Request
	// logs is the log text of every container.
	logs string
}

func newFakeKubelet(t *testing.T) *fakeKubelet {
	k := &fakeKubelet{logs: "line 1\nline 2\n"}
	k.srv = httptest.NewServer(http.HandlerFunc(k.serve))
	t.Cleanup(k.srv.Close)
	return k
}

// lastRequest is the last request the kubelet got.
func (k *fakeKubelet) lastRequest(t *testing.T) *http.Request {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.requests) == 0 {
		t.Fatal("the kubelet got no request")
	}
	return k.requests[len(k.requests)-1]
}

func (k *fakeKubelet) serve(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	k.requests = append(k.requests, r.Clone(context.Background()))
	k.mu.Unlock()
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case parts[0] == "exec" && len(parts) == 4 && isV5WebSocket(r):
		serveV5Exec(w, r)
	case parts[0] == "exec" && len(parts) == 4:
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeExec(w, r, executor{}, parts[2], "", parts[3], r.URL.Query()["command"], opts,
			time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
	case parts[0] == "attach" && len(parts) == 4:
		opts, err := remotecommand.NewOptions(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		remotecommand.ServeAttach(w, r, executor{}, parts[2], "", parts[3], opts,
			time.Minute, 30*time.Second, remotecommand.SupportedStreamingProtocols)
	case parts[0] == "portForward" && len(parts) == 3:
		opts, err := portforward.NewV4Options(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		portforward.ServePortForward(w, r, executor{}, parts[2], "", opts, time.Minute, 30*time.Second, portforward.SupportedProtocols)
	case parts[0] == "containerLogs" && len(parts) == 4:
		if parts[3] == "waiting" {
			http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", parts[3], parts[2]), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, k.logs)
	default:
		http.NotFound(w, r)
	}
}

// executor runs the fake containers: exec prints its command, or exits
// with the code it is given as "exit N"; attach and port-forward echo.
type executor struct{}

func (executor) ExecInContainer(ctx context.Context, pod, uid, container string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize, timeout time.Duration) error {
	if len(cmd) == 2 && cmd[0] == "exit" {
		var code int
		fmt.Sscan(cmd[1], &code)
		return utilexec.CodeExitError{Err: fmt.Errorf("command terminated with exit code %d", code), Code: code}
	}
	if out != nil {
		fmt.Fprintf(out, "%s/%s: %s\n", pod, container, strings.Join(cmd, " "))
	}
	if in != nil && out != nil {
		io.Copy(out, in)
	}
	return nil
}

func (executor) AttachContainer(ctx context.Context, pod, uid, container string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommand.TerminalSize) error {
	fmt.Fprintf(out, "attached to %s/%s\n", pod, container)
	return nil
}

func (executor) PortForward(ctx context.Context, pod, uid string, port int32, stream io.ReadWriteCloser) error {
	_, err := io.Copy(stream, stream)
	return err
}

func isV5WebSocket(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket") && strings.Contains(r.Header.Get("Sec-WebSocket-Protocol"), "v5.channel.k8s.io")
}

// serveV5Exec answers a passed-through WebSocket v5 exec as a kubelet that
// speaks v5 does: the empty message that says the session is up (upstream's
// createWebSocketStreams), then, once the command has run, the output on
// channel 1, success on channel 3, CLOSE. The command's time matters:
// kubectl up to 1.33 drops what comes before it has made its streams
// (kubernetes#131203), which a loaded machine stretches to more than the
// instant between two writes.
func serveV5Exec(w http.ResponseWriter, r *http.Request) {
	upgrader := websocket.Upgrader{Subprotocols: []string{"v5.channel.k8s.io"}}
	conn, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer conn.Close()
	conn.WriteMessage(websocket.BinaryMessage, []byte{1})
	time.Sleep(100 * time.Millisecond)
	out := fmt.Sprintf("websocket: %s\n", strings.Join(r.URL.Query()["command"], " "))
	conn.WriteMessage(websocket.BinaryMessage, append([]byte{1}, out...))
	conn.WriteMessage(websocket.BinaryMessage, append([]byte{3}, `{"metadata":{},"status":"Success"}`...))
	conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
}
