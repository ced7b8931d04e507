package kubelet

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
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

// dialRuntime connects lazily to a unix:// endpoint. The calls carry the
// trace context of the request they serve as gRPC metadata, as cri-client's
// do with KubeletTracing (otelgrpc).
func dialRuntime(endpoint string, timeout time.Duration, tp trace.TracerProvider) (*remoteRuntime, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "unix" || u.Path == "" {
		return nil, fmt.Errorf("container runtime endpoint %q: want unix:///absolute/path", endpoint)
	}
	conn, err := grpc.NewClient("unix://"+u.Path,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsgSize), grpc.MaxCallSendMsgSize(maxMsgSize)),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(tracing.Propagator))),
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

// call sends one RPC bounded by timeout, as each method of cri-client's
// remoteRuntimeService bounds its call by the runtime request timeout. The
// error is the runtime's gRPC status as it came, unwrapped as upstream
// returns it: the kubelet API answers its code and message
// (streaming.WriteError).
func call[Req, Resp any](ctx context.Context, timeout time.Duration, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) (Resp, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return rpc(ctx, req)
}

func (r *remoteRuntime) Version(ctx context.Context) (*runtimeapi.VersionResponse, error) {
	return call(ctx, r.timeout, r.rs.Version, &runtimeapi.VersionRequest{})
}

func (r *remoteRuntime) RunPodSandbox(ctx context.Context, config *runtimeapi.PodSandboxConfig) (string, error) {
	// Upstream allows twice the timeout: sandbox creation sets up networking.
	resp, err := call(ctx, 2*r.timeout, r.rs.RunPodSandbox, &runtimeapi.RunPodSandboxRequest{Config: config})
	if err != nil {
		return "", err
	}
	if resp.PodSandboxId == "" {
		return "", fmt.Errorf("runtime returned an empty sandbox id for pod %s/%s", config.Metadata.Namespace, config.Metadata.Name)
	}
	return resp.PodSandboxId, nil
}

func (r *remoteRuntime) StopPodSandbox(ctx context.Context, id string) error {
	_, err := call(ctx, r.timeout, r.rs.StopPodSandbox, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *remoteRuntime) RemovePodSandbox(ctx context.Context, id string) error {
	_, err := call(ctx, r.timeout, r.rs.RemovePodSandbox, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})
	return err
}

func (r *remoteRuntime) ListPodSandbox(ctx context.Context, filter *runtimeapi.PodSandboxFilter) ([]*runtimeapi.PodSandbox, error) {
	resp, err := call(ctx, r.timeout, r.rs.ListPodSandbox, &runtimeapi.ListPodSandboxRequest{Filter: filter})
	return resp.GetItems(), err
}

func (r *remoteRuntime) CreateContainer(ctx context.Context, sandboxID string, config *runtimeapi.ContainerConfig, sandboxConfig *runtimeapi.PodSandboxConfig) (string, error) {
	resp, err := call(ctx, r.timeout, r.rs.CreateContainer, &runtimeapi.CreateContainerRequest{
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
	_, err := call(ctx, r.timeout, r.rs.StartContainer, &runtimeapi.StartContainerRequest{ContainerId: id})
	return err
}

// StopContainer waits up to the grace period on top of the request timeout,
// leaving the runtime time to escalate to SIGKILL.
func (r *remoteRuntime) StopContainer(ctx context.Context, id string, grace int64) error {
	_, err := call(ctx, r.timeout+time.Duration(grace)*time.Second, r.rs.StopContainer, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: grace})
	return err
}

func (r *remoteRuntime) RemoveContainer(ctx context.Context, id string) error {
	_, err := call(ctx, r.timeout, r.rs.RemoveContainer, &runtimeapi.RemoveContainerRequest{ContainerId: id})
	return err
}

func (r *remoteRuntime) ListContainers(ctx context.Context, filter *runtimeapi.ContainerFilter) ([]*runtimeapi.Container, error) {
	resp, err := call(ctx, r.timeout, r.rs.ListContainers, &runtimeapi.ListContainersRequest{Filter: filter})
	return resp.GetContainers(), err
}

func (r *remoteRuntime) ContainerStatus(ctx context.Context, id string) (*runtimeapi.ContainerStatus, error) {
	resp, err := call(ctx, r.timeout, r.rs.ContainerStatus, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	if err != nil {
		return nil, err
	}
	if resp.Status == nil {
		return nil, fmt.Errorf("runtime returned no status for container %s", id)
	}
	return resp.Status, nil
}

// Exec, Attach and PortForward answer the runtime's streaming URL.
func (r *remoteRuntime) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*url.URL, error) {
	return streamingURL(call(ctx, r.timeout, r.rs.Exec, req))
}

func (r *remoteRuntime) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*url.URL, error) {
	return streamingURL(call(ctx, r.timeout, r.rs.Attach, req))
}

func (r *remoteRuntime) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*url.URL, error) {
	return streamingURL(call(ctx, r.timeout, r.rs.PortForward, req))
}

// streamingURL parses the URL of an Exec, Attach or PortForward answer. It
// must be absolute: kubelets before the dockershim's removal resolved
// relative URLs against a streaming server of their own, which this kubelet
// (like upstream today) does not have, so a relative URL is refused here
// with a clear error instead of failing inside the proxy.
func streamingURL[Resp interface{ GetUrl() string }](resp Resp, err error) (*url.URL, error) {
	if err != nil {
		return nil, err
	}
	raw := resp.GetUrl()
	// host:port/path parses as a path with a colon, or as a URL whose
	// scheme is the host: say what it lacks.
	if !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "/") {
		return nil, fmt.Errorf("container runtime returned a streaming URL without a scheme %q; it must be absolute (http://host:port/...)", raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse streaming URL from the container runtime: %w", err)
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("container runtime returned a relative streaming URL %q; it must be absolute (http://host:port/...)", raw)
	}
	return u, nil
}

func (r *remoteRuntime) ImageStatus(ctx context.Context, image *runtimeapi.ImageSpec) (*runtimeapi.Image, error) {
	resp, err := call(ctx, r.timeout, r.is.ImageStatus, &runtimeapi.ImageStatusRequest{Image: image})
	return resp.GetImage(), err
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
