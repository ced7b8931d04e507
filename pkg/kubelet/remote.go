package kubelet

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxMsgSize is the largest CRI message accepted, as upstream's remote
// runtime (k8s.io/cri-client/pkg/remote_runtime.go).
const maxMsgSize = 16 * 1024 * 1024

// remoteRuntime is the kubelet's CRI client: both gRPC services over one
// connection, each call bounded by the runtime request timeout as in
// k8s.io/cri-client's remoteRuntimeService.
type remoteRuntime struct {
	conn    *grpc.ClientConn
	rs      runtimeapi.RuntimeServiceClient
	is      runtimeapi.ImageServiceClient
	timeout time.Duration
}

// dialRuntime connects lazily to a unix:// endpoint.
func dialRuntime(endpoint string, timeout time.Duration) (*remoteRuntime, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return nil, fmt.Errorf("container runtime endpoint %q: want unix:///absolute/path", endpoint)
	}
	conn, err := grpc.NewClient("unix://"+u.Path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
	)
	if err != nil {
		return nil, fmt.Errorf("connect to container runtime %s: %w", endpoint, err)
	}
	return &remoteRuntime{
		conn:    conn,
		rs:      runtimeapi.NewRuntimeServiceClient(conn),
		is:      runtimeapi.NewImageServiceClient(conn),
		timeout: timeout,
	}, nil
}

func (r *remoteRuntime) Close() error { return r.conn.Close() }

// bounded returns ctx limited by the request timeout plus extra.
func (r *remoteRuntime) bounded(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.timeout+extra)
}

func (r *remoteRuntime) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	return r.rs.Version(ctx, &runtimeapi.VersionRequest{})
}

func (r *remoteRuntime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig) (string, error) {
	// Upstream allows twice the timeout: sandbox creation sets up networking.
	ctx, cancel := r.bounded(ctx, r.timeout)
	defer cancel()
	resp, err := r.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: config})
	if err != nil {
		return "", err
	}
	if resp.PodSandboxId == "" {
		return "", fmt.Errorf("runtime returned an empty sandbox id for pod %s/%s", config.Metadata.Namespace, config.Metadata.Name)
	}
	return resp.PodSandboxId, nil
}

func (r *remoteRuntime) StopPodSandbox(ctx context.Context, id string) error {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	_, err := r.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *remoteRuntime) RemovePodSandbox(ctx context.Context, id string) error {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	_, err := r.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *remoteRuntime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: filter})
	if err != nil {
		return nil, err
	}
	return resp.Items, nil
}

func (r *remoteRuntime) CreateContainer(ctx context.Context, sandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId:  sandboxID,
		Config:        config,
		SandboxConfig: sandboxConfig,
	})
	if err != nil {
		return "", err
	}
	if resp.ContainerId == "" {
		return "", fmt.Errorf("runtime returned an empty container id for %q", config.Metadata.Name)
	}
	return resp.ContainerId, nil
}

func (r *remoteRuntime) StartContainer(ctx context.Context, id string) error {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	_, err := r.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	return err
}

// StopContainer waits up to the grace period on top of the request timeout,
// leaving the runtime time to escalate to SIGKILL.
func (r *remoteRuntime) StopContainer(ctx context.Context, id string, grace int64) error {
	ctx, cancel := r.bounded(ctx, time.Duration(grace)*time.Second)
	defer cancel()
	_, err := r.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace})
	return err
}

func (r *remoteRuntime) RemoveContainer(ctx context.Context, id string) error {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	_, err := r.rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	return err
}

func (r *remoteRuntime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: filter})
	if err != nil {
		return nil, err
	}
	return resp.Containers, nil
}

func (r *remoteRuntime) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("runtime returned no status for container %s", id)
	}
	return resp.Status, nil
}

func (r *remoteRuntime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (string, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.Exec(ctx, req)
	if err != nil {
		return "", err
	}
	return resp.Url, nil
}

func (r *remoteRuntime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (string, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.Attach(ctx, req)
	if err != nil {
		return "", err
	}
	return resp.Url, nil
}

func (r *remoteRuntime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (string, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.rs.PortForward(ctx, req)
	if err != nil {
		return "", err
	}
	return resp.Url, nil
}

func (r *remoteRuntime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec) (*runtimeapi.Image, error) {
	ctx, cancel := r.bounded(ctx, 0)
	defer cancel()
	resp, err := r.is.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: image})
	if err != nil {
		return nil, err
	}
	return resp.Image, nil
}

// PullImage has no deadline of its own, as upstream: pulls may take long and
// end with the caller's context.
func (r *remoteRuntime) PullImage(ctx context.Context, image *runtimeapi.ImageSpec, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := r.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: image, SandboxConfig: sandboxConfig})
	if err != nil {
		return "", err
	}
	if resp.ImageRef == "" {
		return "", fmt.Errorf("runtime returned an empty image reference for %q", image.Image)
	}
	return resp.ImageRef, nil
}
