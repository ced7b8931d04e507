package criclient

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime answers the few RuntimeService calls the client makes and
// records the ones that change state.
type fakeRuntime struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	mu     sync.Mutex
	pods   []*runtimeapi.PodSandbox
	ctrs   []*runtimeapi.Container
	ready  bool
	failOn string // a pod ID whose StopPodSandbox fails
	calls  []string
}

func (f *fakeRuntime) record(call string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
}

func (f *fakeRuntime) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "containerd", RuntimeVersion: "1.6.20~ds1", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeRuntime) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
		{Type: runtimeapi.RuntimeReady, Status: f.ready, Reason: "NotStarted", Message: "still loading"},
		{Type: runtimeapi.NetworkReady, Status: false, Reason: "NetworkPluginNotReady"},
	}}}, nil
}

func (f *fakeRuntime) ListPodSandbox(context.Context, *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListPodSandboxResponse{Items: f.pods}, nil
}

func (f *fakeRuntime) StopPodSandbox(_ context.Context, r *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	f.record("StopPodSandbox " + r.PodSandboxId)
	if r.PodSandboxId == f.failOn {
		return nil, status.Error(codes.Unknown, "shim gone")
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeRuntime) RemovePodSandbox(_ context.Context, r *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.record("RemovePodSandbox " + r.PodSandboxId)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pods = slices.DeleteFunc(f.pods, func(p *runtimeapi.PodSandbox) bool { return p.Id == r.PodSandboxId })
	f.ctrs = slices.DeleteFunc(f.ctrs, func(c *runtimeapi.Container) bool { return c.PodSandboxId == r.PodSandboxId })
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func (f *fakeRuntime) ListContainers(context.Context, *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &runtimeapi.ListContainersResponse{Containers: f.ctrs}, nil
}

func (f *fakeRuntime) StopContainer(_ context.Context, r *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	f.record("StopContainer " + r.ContainerId)
	return &runtimeapi.StopContainerResponse{}, nil
}

func (f *fakeRuntime) RemoveContainer(_ context.Context, r *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	f.record("RemoveContainer " + r.ContainerId)
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// serve starts f on a unix socket and returns the endpoint.
func serve(t *testing.T, f runtimeapi.RuntimeServiceServer) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "cri.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(s, f)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return "unix://" + sock
}

func pod(id, name string) *runtimeapi.PodSandbox {
	return &runtimeapi.PodSandbox{Id: id, State: runtimeapi.PodSandboxState_SANDBOX_READY,
		Metadata: &runtimeapi.PodSandboxMetadata{Name: name, Namespace: "default", Uid: "uid-" + name}}
}

func ctr(id, podID string) *runtimeapi.Container {
	return &runtimeapi.Container{Id: id, PodSandboxId: podID, State: runtimeapi.ContainerState_CONTAINER_RUNNING,
		Metadata: &runtimeapi.ContainerMetadata{Name: "busybox"}}
}

// dial connects a Client to endpoint; the test's end closes it.
func dial(t *testing.T, endpoint string) *Client {
	t.Helper()
	c, err := Dial(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// call runs one of the client's commands for at most timeout.
func call(t *testing.T, cmd func(*Client, context.Context, io.Writer) error, c *Client, timeout time.Duration) (stdout string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	err = cmd(c, ctx, &out)
	return out.String(), err
}

func TestVersion(t *testing.T) {
	c := dial(t, serve(t, &fakeRuntime{ready: true}))
	out, err := call(t, (*Client).Version, c, time.Minute)
	if err != nil || out != "containerd 1.6.20~ds1 (CRI v1)\n" {
		t.Fatalf("version: stdout %q, %v", out, err)
	}
}

func TestWaitGivesUpWhenNotReady(t *testing.T) {
	c := dial(t, serve(t, &fakeRuntime{ready: false}))
	// Long enough for a first answer on a busy machine; Wait reports the
	// last answer, not the attempt the deadline cut short.
	out, err := call(t, (*Client).Wait, c, 2*time.Second)
	want := "not ready: RuntimeReady is false: NotStarted still loading"
	if out != "" || err == nil || err.Error() != want {
		t.Fatalf("wait: stdout %q, error %v; want error %q", out, err, want)
	}
}

func TestWaitWhenReady(t *testing.T) {
	ep := serve(t, &fakeRuntime{ready: true})
	// A bare path is accepted as well as unix://.
	if got := Target(ep[len("unix://"):]); got != ep {
		t.Errorf("Target(path) = %q, want %q", got, ep)
	}
	c := dial(t, ep[len("unix://"):])
	out, err := call(t, (*Client).Wait, c, time.Minute)
	if err != nil || out != "containerd 1.6.20~ds1 (CRI v1)\n" {
		t.Fatalf("wait: stdout %q, %v", out, err)
	}
}

func TestList(t *testing.T) {
	f := &fakeRuntime{pods: []*runtimeapi.PodSandbox{pod("0123456789abcdef", "demo")}, ctrs: []*runtimeapi.Container{ctr("fedcba9876543210", "0123456789abcdef")}}
	out, err := call(t, (*Client).List, dial(t, serve(t, f)), time.Minute)
	want := "pod       0123456789abc  SANDBOX_READY        default/demo\n" +
		"container fedcba9876543  CONTAINER_RUNNING    busybox (pod 0123456789abc)\n"
	if err != nil || out != want {
		t.Fatalf("ls: stdout %q, %v; want %q", out, err, want)
	}
}

func TestResetRemovesPodsThenOrphans(t *testing.T) {
	f := &fakeRuntime{
		pods: []*runtimeapi.PodSandbox{pod("p1", "a"), pod("p2", "b")},
		ctrs: []*runtimeapi.Container{ctr("c1", "p1"), ctr("c2", "p2"), ctr("orphan", "gone")},
	}
	out, err := call(t, (*Client).Reset, dial(t, serve(t, f)), time.Minute)
	if err != nil {
		t.Fatalf("reset: %v", err)
	}
	if want := "removed 2 pod sandbox(es) and 1 container(s) outside them\n"; out != want {
		t.Fatalf("reset printed %q, want %q", out, want)
	}
	want := []string{
		"StopPodSandbox p1", "RemovePodSandbox p1",
		"StopPodSandbox p2", "RemovePodSandbox p2",
		"StopContainer orphan", "RemoveContainer orphan",
	}
	if !slices.Equal(f.calls, want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}

func TestResetReportsFailuresAndGoesOn(t *testing.T) {
	f := &fakeRuntime{pods: []*runtimeapi.PodSandbox{pod("p1", "a"), pod("p2", "b")}, failOn: "p1"}
	out, err := call(t, (*Client).Reset, dial(t, serve(t, f)), time.Minute)
	want := "stop pod sandbox p1: rpc error: code = Unknown desc = shim gone"
	if out != "" || err == nil || err.Error() != want {
		t.Fatalf("reset: stdout %q, error %v; want error %q", out, err, want)
	}
	if want := []string{"StopPodSandbox p1", "StopPodSandbox p2", "RemovePodSandbox p2"}; !slices.Equal(f.calls, want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}
