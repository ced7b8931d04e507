package fakecri

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/internal/testutil"
)

// fakeStreams stands for pkg/streaming's server: it answers a URL naming
// the request and remembers the requests.
type fakeStreams struct {
	mu    sync.Mutex
	execs []*runtimeapi.ExecRequest
}

func (f *fakeStreams) GetExec(_ context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.execs = append(f.execs, r)
	return &runtimeapi.ExecResponse{Url: "http://127.0.0.1:1/exec/" + r.ContainerId}, nil
}

func (f *fakeStreams) GetAttach(_ context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return &runtimeapi.AttachResponse{Url: "http://127.0.0.1:1/attach/" + r.ContainerId}, nil
}

func (f *fakeStreams) GetPortForward(_ context.Context, r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return &runtimeapi.PortForwardResponse{Url: "http://127.0.0.1:1/portforward/" + r.PodSandboxId}, nil
}

// env is a Runtime served over a real unix socket, and CRI clients of it,
// as a kubelet or crictl would dial it.
type env struct {
	t       *testing.T
	root    string
	logDir  string
	rt      *Runtime
	rs      runtimeapi.RuntimeServiceClient
	is      runtimeapi.ImageServiceClient
	streams *fakeStreams
	conn    *grpc.ClientConn
	srv     *grpc.Server
	served  chan struct{}
}

// newEnv starts a runtime on root; the test's end stops it and checks that
// no goroutine outlives it.
func newEnv(t *testing.T, root string) *env {
	t.Helper()
	testutil.CheckGoroutines(t)
	e := startEnv(t, root)
	t.Cleanup(e.stop)
	return e
}

// startEnv starts a runtime on root whose shim is the test binary
// (TestMain). Its containers outlive it, as containerd's: the test's end
// kills them, after the cleanups registered later (stop).
func startEnv(t *testing.T, root string) *env {
	t.Helper()
	return startEnvWith(t, Config{Root: root, Shim: testBinary(t)})
}

// startEnvWith starts a runtime of cfg, with the tests' version, logger
// and imagebin.
func startEnvWith(t *testing.T, cfg Config) *env {
	t.Helper()
	root := cfg.Root
	cfg.Version, cfg.Logger, cfg.ImageBin = "test", slog.New(slog.NewTextHandler(io.Discard, nil)), testBinary(t)
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ended, err := EndSessions(root)
		if err != nil {
			t.Error(err)
		}
		if left := procs.WaitGone(ended, 5*time.Second); len(left) > 0 {
			t.Errorf("still running 5 s after SIGKILL: %v", left)
		}
	})
	e := &env{t: t, root: root, logDir: filepath.Join(root, "..", "logs"), rt: rt, streams: &fakeStreams{}, served: make(chan struct{})}
	sock := filepath.Join(t.TempDir(), "cri.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	e.srv = grpc.NewServer()
	NewService(rt, e.streams).Register(e.srv)
	go func() {
		e.srv.Serve(lis)
		close(e.served)
	}()
	e.conn, err = grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	e.rs = runtimeapi.NewRuntimeServiceClient(e.conn)
	e.is = runtimeapi.NewImageServiceClient(e.conn)
	// The kubelet pulls before it creates; every test container runs busybox.
	if _, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "busybox"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

// testBinary is this test binary, which is also imagebin (TestMain).
func testBinary(t *testing.T) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// stop stops the server and the runtime; it may be called more than once.
func (e *env) stop() {
	if e.srv == nil {
		return
	}
	e.conn.Close()
	e.srv.Stop()
	<-e.served
	e.rt.Close()
	e.srv = nil
}

var ctx = context.Background()

// genericImage is an image the catalogue does not know.
const genericImage = "example.com/unknown/app:1"

func (e *env) sandboxConfig(name string) *runtimeapi.PodSandboxConfig {
	return &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name},
		LogDirectory: filepath.Join(e.logDir, "default_"+name+"_uid-"+name),
		Labels:       map[string]string{"io.kubernetes.pod.name": name, "io.kubernetes.pod.namespace": "default"},
		Annotations:  map[string]string{"kubernetes.io/config.source": "api"},
		Linux: &runtimeapi.LinuxPodSandboxConfig{SecurityContext: &runtimeapi.LinuxSandboxSecurityContext{
			NamespaceOptions: &runtimeapi.NamespaceOption{Network: runtimeapi.NamespaceMode_NODE},
		}},
	}
}

// runPod runs a sandbox named name and returns its ID.
func (e *env) runPod(name string) string {
	e.t.Helper()
	resp, err := e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.sandboxConfig(name)})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.PodSandboxId
}

func containerConfig(pod, name string, cmd ...string) *runtimeapi.ContainerConfig {
	return &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: name},
		Image:    &runtimeapi.ImageSpec{Image: "busybox"},
		Command:  cmd,
		LogPath:  name + "/0.log",
		Labels: map[string]string{
			"io.kubernetes.pod.name": pod, "io.kubernetes.pod.namespace": "default",
			"io.kubernetes.pod.uid": "uid-" + pod, "io.kubernetes.container.name": name,
		},
		Annotations: map[string]string{"io.kubernetes.container.restartCount": "0"},
	}
}

// create creates a container in sandbox sb of pod.
func (e *env) create(sb, pod string, cfg *runtimeapi.ContainerConfig) string {
	e.t.Helper()
	resp, err := e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: cfg, SandboxConfig: e.sandboxConfig(pod)})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.ContainerId
}

// run creates and starts a container running cmd.
func (e *env) run(sb, pod, name string, cmd ...string) string {
	e.t.Helper()
	id := e.create(sb, pod, containerConfig(pod, name, cmd...))
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) status(id string) *runtimeapi.ContainerStatus {
	e.t.Helper()
	resp, err := e.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.Status
}

// waitExited polls until the container has exited and returns its status.
func (e *env) waitExited(id string) *runtimeapi.ContainerStatus {
	e.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st := e.status(id); st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			return st
		}
	}
	e.t.Fatalf("container %s did not exit", id)
	return nil
}

// waitFile polls until path holds want, and returns what it holds.
func waitFile(t *testing.T, path string, done func(string) bool) string {
	t.Helper()
	var b []byte
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ = os.ReadFile(path)
		if done(string(b)) {
			return string(b)
		}
	}
	t.Fatalf("%s holds %q", path, b)
	return ""
}

// wantCode fails unless err is a gRPC status with code and message.
func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || st.Message() != msg {
		t.Errorf("error %v, want %v %q", err, code, msg)
	}
}

// wantCodeRE fails unless err is a gRPC status with code and a message
// that matches pattern.
func wantCodeRE(t *testing.T, err error, code codes.Code, pattern string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || !regexp.MustCompile(pattern).MatchString(st.Message()) {
		t.Errorf("error %v, want %v matching %q", err, code, pattern)
	}
}

// pid is the process ID of a running container's main process.
func (e *env) pid(id string) int {
	e.t.Helper()
	c, err := e.rt.getContainer(id)
	if err != nil {
		e.t.Fatal(err)
	}
	return c.getStatus().pid
}

// alive reports whether pid is a process that has not exited; a zombie left
// for an init that does not reap is gone too.
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(after, "Z") && !strings.HasPrefix(after, "X")
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	t.Errorf("process %d is still alive", pid)
}

// pipeStream is a closable writer that collects what it is given.
type pipeStream struct {
	mu     sync.Mutex
	buf    strings.Builder
	closed bool
	wrote  chan struct{}
}

func newPipeStream() *pipeStream { return &pipeStream{wrote: make(chan struct{}, 1)} }

func (p *pipeStream) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, errors.New("write to closed stream")
	}
	p.buf.Write(b)
	select {
	case p.wrote <- struct{}{}:
	default:
	}
	return len(b), nil
}

func (p *pipeStream) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

func (p *pipeStream) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.String()
}

func (p *pipeStream) isClosed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}

// waitFor polls until the stream holds want.
func (p *pipeStream) waitFor(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		if strings.Contains(p.String(), want) {
			return
		}
		select {
		case <-p.wrote:
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("stream holds %q, want %q in it", p.String(), want)
}

// getTerminalSize reads the size of the terminal whose master is f, without
// putting f into blocking mode as pty.Getsize would.
func getTerminalSize(f *os.File) (rows, cols int, err error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, 0, err
	}
	var ws *unix.Winsize
	if ctlErr := rc.Control(func(fd uintptr) { ws, err = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) }); ctlErr != nil {
		return 0, 0, ctlErr
	}
	if err != nil {
		return 0, 0, err
	}
	return int(ws.Row), int(ws.Col), nil
}

// waitSession waits until session sid has n processes and returns them.
func waitSession(t *testing.T, sid, n int) []int {
	t.Helper()
	var pids []int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		pids = pids[:0]
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			if s, err := unix.Getsid(pid); err == nil && s == sid && alive(pid) {
				pids = append(pids, pid)
			}
		}
		if len(pids) == n {
			return pids
		}
	}
	t.Fatalf("session %d has processes %v, want %d", sid, pids, n)
	return nil
}
