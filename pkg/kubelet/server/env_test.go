package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/internal/testutil"
)

// hostCall is one call the server made of its host.
type hostCall struct {
	method    string // GetExec, GetAttach, GetPortForward or GetKubeletContainerLogs
	pod       string // namespace/name
	podUID    types.UID
	container string
	cmd       []string
	opts      StreamOptions
	ports     []int32
	logOpts   *v1.PodLogOptions
}

// fakeHost is the kubelet as the server sees it (upstream's fakeKubelet in
// server_test.go): pods in memory, and sessions on upstream's CRI streaming
// server unless a test answers them itself.
type fakeHost struct {
	mu    sync.Mutex
	pods  []*v1.Pod
	calls []hostCall
	// stream answers GetExec, GetAttach and GetPortForward.
	stream func(hostCall) (*url.URL, error)
	// logs answers GetKubeletContainerLogs.
	logs func(stdout, stderr io.Writer) error
}

func (h *fakeHost) GetPodByName(namespace, name string) (*v1.Pod, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, pod := range h.pods {
		if pod.Namespace == namespace && pod.Name == name {
			return pod, true
		}
	}
	return nil, false
}

func (h *fakeHost) GetPods() []*v1.Pod {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.pods)
}

func (h *fakeHost) record(c hostCall) func(hostCall) (*url.URL, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, c)
	return h.stream
}

func (h *fakeHost) answer(c hostCall) (*url.URL, error) {
	stream := h.record(c)
	if stream == nil {
		return nil, fmt.Errorf("no streaming server")
	}
	return stream(c)
}

func (h *fakeHost) GetExec(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, cmd []string, streamOpts StreamOptions) (*url.URL, error) {
	return h.answer(hostCall{method: "GetExec", pod: pod.Namespace + "/" + pod.Name, podUID: podUID, container: containerName, cmd: cmd, opts: streamOpts})
}

func (h *fakeHost) GetAttach(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, streamOpts StreamOptions) (*url.URL, error) {
	return h.answer(hostCall{method: "GetAttach", pod: pod.Namespace + "/" + pod.Name, podUID: podUID, container: containerName, opts: streamOpts})
}

func (h *fakeHost) GetPortForward(ctx context.Context, pod *v1.Pod, ports []int32) (*url.URL, error) {
	return h.answer(hostCall{method: "GetPortForward", pod: pod.Namespace + "/" + pod.Name, ports: ports})
}

func (h *fakeHost) GetKubeletContainerLogs(ctx context.Context, pod *v1.Pod, containerName string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error {
	h.mu.Lock()
	h.calls = append(h.calls, hostCall{method: "GetKubeletContainerLogs", pod: pod.Namespace + "/" + pod.Name, container: containerName, logOpts: opts})
	logs := h.logs
	h.mu.Unlock()
	return logs(stdout, stderr)
}

func (h *fakeHost) SyncLoopHealthCheck(*http.Request) error { return nil }

// callsOf returns the recorded calls of one method.
func (h *fakeHost) callsOf(method string) []hostCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []hostCall
	for _, c := range h.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

func (h *fakeHost) setStream(stream func(hostCall) (*url.URL, error)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stream = stream
}

func (h *fakeHost) setLogs(logs func(stdout, stderr io.Writer) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.logs = logs
}

// answer returns a stream function that answers u and err.
func answer(u string, err error) func(hostCall) (*url.URL, error) {
	return func(hostCall) (*url.URL, error) {
		if err != nil {
			return nil, err
		}
		return url.Parse(u)
	}
}

// containerID and sandboxID are the runtime IDs the fake host gives a
// container and a pod's sandbox.
func containerID(c hostCall) string {
	return "cid-" + strings.ReplaceAll(c.pod, "/", "-") + "-" + c.container
}
func sandboxID(c hostCall) string { return "sid-" + strings.ReplaceAll(c.pod, "/", "-") }

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
// host answer exec, attach and port-forward with its URLs, as a kubelet
// passes on its runtime's.
func serveStreaming(t *testing.T, h *fakeHost) {
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
	h.setStream(func(c hostCall) (*url.URL, error) {
		var raw string
		switch c.method {
		case "GetExec":
			resp, err := srv.GetExec(&runtimeapi.ExecRequest{ContainerId: containerID(c), Cmd: c.cmd, Tty: c.opts.TTY, Stdin: c.opts.Stdin, Stdout: c.opts.Stdout, Stderr: c.opts.Stderr})
			if err != nil {
				return nil, err
			}
			raw = resp.Url
		case "GetAttach":
			resp, err := srv.GetAttach(&runtimeapi.AttachRequest{ContainerId: containerID(c), Stdin: c.opts.Stdin, Stdout: c.opts.Stdout, Stderr: c.opts.Stderr, Tty: c.opts.TTY})
			if err != nil {
				return nil, err
			}
			raw = resp.Url
		case "GetPortForward":
			resp, err := srv.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: sandboxID(c), Port: c.ports})
			if err != nil {
				return nil, err
			}
			raw = resp.Url
		}
		return url.Parse(raw)
	})
}

// testEnv is the kubelet API serving a fake host.
type testEnv struct {
	t    *testing.T
	host *fakeHost
	srv  *Server
	base string // http://127.0.0.1:port
	http *http.Client
	stop func()
	logs *testutil.SyncBuffer
}

func newTestPod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			Containers: []v1.Container{{Name: "c", Image: "busybox:1.36"}},
		},
	}
}

// newEnv serves the kubelet API for a host with the pods; stopping it and
// the leak check are registered as cleanups.
func newEnv(t *testing.T, opts Options, pods ...*v1.Pod) *testEnv {
	t.Helper()
	testutil.CheckGoroutines(t)
	e := &testEnv{
		t:    t,
		host: &fakeHost{pods: pods},
		logs: &testutil.SyncBuffer{},
		http: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubelet API log:\n%s", e.logs.String())
		}
	})
	opts.Logger = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.srv = NewServer(e.host, opts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.base = "http://" + ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ln) }()
	e.stop = func() {
		e.srv.Stop()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after Stop")
		}
		e.stop = func() {}
	}
	t.Cleanup(func() { e.stop() })
	return e
}

// get sends a GET to the server and returns the status and body.
func (e *testEnv) get(path string) (int, string) {
	e.t.Helper()
	return e.do(http.MethodGet, path)
}

func (e *testEnv) do(method, path string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// exec runs a command through the server as the apiserver would (the
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
