package kubelet

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeCRI is an in-memory CRI runtime served over a unix socket: it keeps
// sandboxes and containers, records the requests the kubelet sends, and
// lets a test end containers and choose the streaming URLs.
type fakeCRI struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	endpoint string
	srv      *grpc.Server

	mu         sync.Mutex
	clock      int64
	nextID     int
	sandboxes  map[string]*fakeSandbox
	containers map[string]*fakeContainer
	images     map[string]string // name → image id
	calls      []string
	requests   []proto.Message
	pullErr    error
	// stream answers Exec, Attach and PortForward.
	stream func(req proto.Message) (string, error)
}

type fakeSandbox struct {
	config    *runtimeapi.PodSandboxConfig
	state     runtimeapi.PodSandboxState
	createdAt int64
}

type fakeContainer struct {
	sandboxID string
	config    *runtimeapi.ContainerConfig
	imageRef  string
	status    *runtimeapi.ContainerStatus
}

func newFakeCRI(t *testing.T) *fakeCRI {
	t.Helper()
	f := &fakeCRI{
		sandboxes:  map[string]*fakeSandbox{},
		containers: map[string]*fakeContainer{},
		images:     map[string]string{},
	}
	dir, err := os.MkdirTemp("", "cri")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "cri.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	f.endpoint = "unix://" + sock
	f.srv = grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(f.srv, f)
	runtimeapi.RegisterImageServiceServer(f.srv, f)
	go f.srv.Serve(ln)
	t.Cleanup(f.srv.Stop)
	return f
}

// tick returns the time now, strictly increasing so that creation order
// is never ambiguous.
func (f *fakeCRI) tick() int64 {
	f.clock = max(time.Now().UnixNano(), f.clock+1)
	return f.clock
}

func (f *fakeCRI) record(call string, req proto.Message) {
	f.calls = append(f.calls, call)
	f.requests = append(f.requests, proto.Clone(req))
}

// callsOf returns the recorded requests of one method.
func (f *fakeCRI) callsOf(method string) []proto.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []proto.Message
	for i, c := range f.calls {
		if c == method {
			out = append(out, f.requests[i])
		}
	}
	return out
}

func (f *fakeCRI) count(method string) int { return len(f.callsOf(method)) }

// exit ends a running container with the code, as if its process died.
func (f *fakeCRI) exit(id string, code int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	c.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
	c.status.ExitCode = code
	c.status.FinishedAt = f.tick()
	c.status.Reason = "Completed"
	if code != 0 {
		c.status.Reason = "Error"
	}
}

// running returns the IDs of the running containers named name, newest first.
func (f *fakeCRI) running(name string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for id, c := range f.containers {
		if c.config.Metadata.Name == name && c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		return f.containers[ids[i]].status.CreatedAt > f.containers[ids[j]].status.CreatedAt
	})
	return ids
}

func (f *fakeCRI) Version(ctx context.Context, req *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "fake-cri-test", RuntimeVersion: "1.2.3", RuntimeApiVersion: "v1"}, nil
}

func (f *fakeCRI) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RunPodSandbox", req)
	f.nextID++
	id := fmt.Sprintf("sandbox-%d", f.nextID)
	f.sandboxes[id] = &fakeSandbox{config: req.Config, state: runtimeapi.PodSandboxState_SANDBOX_READY, createdAt: f.tick()}
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, nil
}

func (f *fakeCRI) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopPodSandbox", req)
	if s, ok := f.sandboxes[req.PodSandboxId]; ok {
		s.state = runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	}
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

func (f *fakeCRI) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RemovePodSandbox", req)
	delete(f.sandboxes, req.PodSandboxId)
	for id, c := range f.containers {
		if c.sandboxID == req.PodSandboxId {
			delete(f.containers, id)
		}
	}
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func matches(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (f *fakeCRI) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListPodSandboxResponse{}
	for id, s := range f.sandboxes {
		if flt := req.Filter; flt != nil {
			if flt.State != nil && flt.State.State != s.state || !matches(s.config.Labels, flt.LabelSelector) {
				continue
			}
		}
		resp.Items = append(resp.Items, &runtimeapi.PodSandbox{
			Id: id, Metadata: s.config.Metadata, State: s.state, CreatedAt: s.createdAt,
			Labels: s.config.Labels, Annotations: s.config.Annotations,
		})
	}
	return resp, nil
}

func (f *fakeCRI) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("CreateContainer", req)
	s, ok := f.sandboxes[req.PodSandboxId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "sandbox %s not found", req.PodSandboxId)
	}
	f.nextID++
	id := fmt.Sprintf("container-%d", f.nextID)
	logPath := filepath.Join(s.config.LogDirectory, req.Config.LogPath)
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	f.containers[id] = &fakeContainer{
		sandboxID: req.PodSandboxId,
		config:    req.Config,
		status: &runtimeapi.ContainerStatus{
			Id:          id,
			Metadata:    req.Config.Metadata,
			State:       runtimeapi.ContainerState_CONTAINER_CREATED,
			CreatedAt:   f.tick(),
			Image:       &runtimeapi.ImageSpec{Image: req.Config.Image.UserSpecifiedImage},
			ImageRef:    req.Config.Image.Image,
			ImageId:     req.Config.Image.Image,
			Labels:      req.Config.Labels,
			Annotations: req.Config.Annotations,
			LogPath:     logPath,
		},
	}
	return &runtimeapi.CreateContainerResponse{ContainerId: id}, nil
}

func (f *fakeCRI) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StartContainer", req)
	c, ok := f.containers[req.ContainerId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %s not found", req.ContainerId)
	}
	c.status.State = runtimeapi.ContainerState_CONTAINER_RUNNING
	c.status.StartedAt = f.tick()
	return &runtimeapi.StartContainerResponse{}, nil
}

func (f *fakeCRI) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("StopContainer", req)
	if c, ok := f.containers[req.ContainerId]; ok && c.status.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		c.status.State = runtimeapi.ContainerState_CONTAINER_EXITED
		c.status.ExitCode = 137
		c.status.Reason = "Error"
		c.status.FinishedAt = f.tick()
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

func (f *fakeCRI) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("RemoveContainer", req)
	delete(f.containers, req.ContainerId)
	return &runtimeapi.RemoveContainerResponse{}, nil
}

func (f *fakeCRI) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &runtimeapi.ListContainersResponse{}
	for id, c := range f.containers {
		if flt := req.Filter; flt != nil {
			if flt.State != nil && flt.State.State != c.status.State || !matches(c.config.Labels, flt.LabelSelector) {
				continue
			}
		}
		resp.Containers = append(resp.Containers, &runtimeapi.Container{
			Id: id, PodSandboxId: c.sandboxID, Metadata: c.config.Metadata, State: c.status.State,
			CreatedAt: c.status.CreatedAt, Labels: c.config.Labels, Annotations: c.config.Annotations,
		})
	}
	return resp, nil
}

func (f *fakeCRI) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ContainerStatus", req)
	c, ok := f.containers[req.ContainerId]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "container %s not found", req.ContainerId)
	}
	return &runtimeapi.ContainerStatusResponse{Status: proto.Clone(c.status).(*runtimeapi.ContainerStatus)}, nil
}

func (f *fakeCRI) streamURL(call string, req proto.Message) (string, error) {
	f.mu.Lock()
	f.record(call, req)
	stream := f.stream
	f.mu.Unlock()
	if stream == nil {
		return "", status.Error(codes.Unimplemented, "no streaming server")
	}
	return stream(req)
}

func (f *fakeCRI) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	u, err := f.streamURL("Exec", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ExecResponse{Url: u}, nil
}

func (f *fakeCRI) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	u, err := f.streamURL("Attach", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.AttachResponse{Url: u}, nil
}

func (f *fakeCRI) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	u, err := f.streamURL("PortForward", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PortForwardResponse{Url: u}, nil
}

func (f *fakeCRI) ImageStatus(ctx context.Context, req *runtimeapi.ImageStatusRequest) (*runtimeapi.ImageStatusResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("ImageStatus", req)
	id, ok := f.images[req.Image.Image]
	if !ok {
		return &runtimeapi.ImageStatusResponse{}, nil
	}
	return &runtimeapi.ImageStatusResponse{Image: &runtimeapi.Image{Id: id, RepoTags: []string{req.Image.Image}}}, nil
}

func (f *fakeCRI) PullImage(ctx context.Context, req *runtimeapi.PullImageRequest) (*runtimeapi.PullImageResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("PullImage", req)
	if f.pullErr != nil {
		return nil, f.pullErr
	}
	id := "sha256:" + fmt.Sprintf("%064x", len(f.images)+1)
	f.images[req.Image.Image] = id
	return &runtimeapi.PullImageResponse{ImageRef: id}, nil
}
