package main

import (
	"bytes"
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeRuntime answers the few RuntimeService calls execlab-cri makes and
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
func serve(t *testing.T, f *fakeRuntime) string {
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

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersion(t *testing.T) {
	ep := serve(t, &fakeRuntime{ready: true})
	code, out, errOut := runCmd(t, "-runtime-endpoint", ep, "version")
	if code != 0 || out != "containerd 1.6.20~ds1 (CRI v1)\n" || errOut != "" {
		t.Fatalf("version: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestWaitGivesUpWhenNotReady(t *testing.T) {
	ep := serve(t, &fakeRuntime{ready: false})
	code, out, errOut := runCmd(t, "-runtime-endpoint", ep, "-timeout", "300ms", "wait")
	want := "execlab-cri wait: " + ep + ": not ready: RuntimeReady is false: NotStarted still loading\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("wait: code %d, stdout %q, stderr %q; want stderr %q", code, out, errOut, want)
	}
}

func TestWaitWhenReady(t *testing.T) {
	ep := serve(t, &fakeRuntime{ready: true})
	// A bare path is accepted as well as unix://.
	code, out, _ := runCmd(t, "-runtime-endpoint", ep[len("unix://"):], "wait")
	if code != 0 || out != "containerd 1.6.20~ds1 (CRI v1)\n" {
		t.Fatalf("wait: code %d, stdout %q", code, out)
	}
}

func TestList(t *testing.T) {
	f := &fakeRuntime{pods: []*runtimeapi.PodSandbox{pod("0123456789abcdef", "demo")}, ctrs: []*runtimeapi.Container{ctr("fedcba9876543210", "0123456789abcdef")}}
	code, out, _ := runCmd(t, "-runtime-endpoint", serve(t, f), "ls")
	want := "pod       0123456789abc  SANDBOX_READY        default/demo\n" +
		"container fedcba9876543  CONTAINER_RUNNING    busybox (pod 0123456789abc)\n"
	if code != 0 || out != want {
		t.Fatalf("ls: code %d, stdout %q; want %q", code, out, want)
	}
}

func TestResetRemovesPodsThenOrphans(t *testing.T) {
	f := &fakeRuntime{
		pods: []*runtimeapi.PodSandbox{pod("p1", "a"), pod("p2", "b")},
		ctrs: []*runtimeapi.Container{ctr("c1", "p1"), ctr("c2", "p2"), ctr("orphan", "gone")},
	}
	code, out, errOut := runCmd(t, "-runtime-endpoint", serve(t, f), "reset")
	if code != 0 || errOut != "" {
		t.Fatalf("reset: code %d, stderr %q", code, errOut)
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
	ep := serve(t, f)
	code, out, errOut := runCmd(t, "-runtime-endpoint", ep, "reset")
	want := "execlab-cri reset: " + ep + ": stop pod sandbox p1: rpc error: code = Unknown desc = shim gone\n"
	if code != 1 || out != "" || errOut != want {
		t.Fatalf("reset: code %d, stdout %q, stderr %q; want stderr %q", code, out, errOut, want)
	}
	if want := []string{"StopPodSandbox p1", "StopPodSandbox p2", "RemovePodSandbox p2"}; !slices.Equal(f.calls, want) {
		t.Fatalf("calls %q, want %q", f.calls, want)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"-nosuchflag", "ls"}, {"ls", "extra"}} {
		code, out, errOut := runCmd(t, args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 2 and a usage", args, code, out, errOut)
		}
	}
	if _, _, errOut := runCmd(t, "frobnicate"); errOut != "execlab-cri: unknown command \"frobnicate\"\n"+usage+"\n" {
		t.Errorf("unknown command: stderr %q", errOut)
	}
}

func TestUnreachableRuntime(t *testing.T) {
	ep := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	code, _, errOut := runCmd(t, "-runtime-endpoint", ep, "-timeout", "200ms", "version")
	if code != 1 || errOut == "" {
		t.Fatalf("version against nothing: code %d, stderr %q", code, errOut)
	}
}
