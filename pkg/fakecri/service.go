package fakecri

import (
	"context"

	"google.golang.org/grpc"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Names the Version RPC answers.
const (
	RuntimeName       = "fake-cri"
	RuntimeAPIVersion = "v1"
	// kubeAPIVersion is the version of the kubelet runtime API, which
	// containerd also answers (internal/cri/server/version.go).
	kubeAPIVersion = "0.1.0"
)

// StreamServer hands out the one-time URLs that the Exec, Attach and
// PortForward RPCs answer; pkg/streaming's Server is one. It validates the
// request's streams itself and answers gRPC status errors.
type StreamServer interface {
	GetExec(context.Context, *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	GetAttach(context.Context, *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	GetPortForward(context.Context, *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// Service is the CRI gRPC API of a Runtime: RuntimeService and ImageService.
// RPCs it does not implement (stats, checkpoints, events, the streaming
// lists, resource updates) answer codes.Unimplemented, which kubelets
// tolerate.
type Service struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	rt      *Runtime
	streams StreamServer
}

// NewService returns the CRI API of rt; Exec, Attach and PortForward answer
// URLs of streams.
func NewService(rt *Runtime, streams StreamServer) *Service {
	return &Service{rt: rt, streams: streams}
}

// Register registers both CRI services on g.
func (s *Service) Register(g *grpc.Server) {
	runtimeapi.RegisterRuntimeServiceServer(g, s)
	runtimeapi.RegisterImageServiceServer(g, s)
}

func (s *Service) Version(context.Context, *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           kubeAPIVersion,
		RuntimeName:       RuntimeName,
		RuntimeVersion:    s.rt.version,
		RuntimeApiVersion: RuntimeAPIVersion,
	}, nil
}

// Status reports the runtime and its network ready: there is nothing to set
// up, pods use the host's network.
func (s *Service) Status(context.Context, *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
			{Type: runtimeapi.RuntimeReady, Status: true},
			{Type: runtimeapi.NetworkReady, Status: true},
		}},
		RuntimeHandlers: []*runtimeapi.RuntimeHandler{{Name: "", Features: &runtimeapi.RuntimeHandlerFeatures{}}},
	}, nil
}

// RuntimeConfig tells the kubelet the cgroup driver; no cgroups are used,
// cgroupfs is what would apply.
func (s *Service) RuntimeConfig(context.Context, *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS}}, nil
}

// UpdateRuntimeConfig accepts the pod CIDR and ignores it: there is no pod
// network to configure.
func (s *Service) UpdateRuntimeConfig(context.Context, *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}
