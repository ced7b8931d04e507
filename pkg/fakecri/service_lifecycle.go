package fakecri

import (
	"context"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// The lifecycle RPCs of sandboxes and containers: each hands its request to
// the Runtime (sandbox.go, container.go, container_status.go) and answers
// its result or its error as a gRPC status.

func (s *Service) RunPodSandbox(_ context.Context, r *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	id, err := s.rt.runPodSandbox(r.GetConfig(), r.GetRuntimeHandler())
	return reply(&runtimeapi.RunPodSandboxResponse{PodSandboxId: id}, err)
}

func (s *Service) StopPodSandbox(ctx context.Context, r *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	return reply(&runtimeapi.StopPodSandboxResponse{}, s.rt.stopPodSandbox(ctx, r.GetPodSandboxId()))
}

func (s *Service) RemovePodSandbox(ctx context.Context, r *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	return reply(&runtimeapi.RemovePodSandboxResponse{}, s.rt.removePodSandbox(ctx, r.GetPodSandboxId()))
}

func (s *Service) PodSandboxStatus(_ context.Context, r *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	st, err := s.rt.podSandboxStatus(r.GetPodSandboxId())
	return reply(&runtimeapi.PodSandboxStatusResponse{Status: st}, err)
}

func (s *Service) ListPodSandbox(_ context.Context, r *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	return &runtimeapi.ListPodSandboxResponse{Items: s.rt.listPodSandbox(r.GetFilter())}, nil
}

func (s *Service) CreateContainer(_ context.Context, r *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	id, err := s.rt.createContainer(r.GetPodSandboxId(), r.GetConfig(), r.GetSandboxConfig())
	return reply(&runtimeapi.CreateContainerResponse{ContainerId: id}, err)
}

func (s *Service) StartContainer(_ context.Context, r *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	return reply(&runtimeapi.StartContainerResponse{}, s.rt.startContainer(r.GetContainerId()))
}

// StopContainer's timeout is in seconds; 0 kills at once.
func (s *Service) StopContainer(ctx context.Context, r *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	timeout := time.Duration(r.GetTimeout()) * time.Second
	return reply(&runtimeapi.StopContainerResponse{}, s.rt.stopContainer(ctx, r.GetContainerId(), timeout))
}

func (s *Service) RemoveContainer(ctx context.Context, r *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	return reply(&runtimeapi.RemoveContainerResponse{}, s.rt.removeContainer(ctx, r.GetContainerId()))
}

func (s *Service) ListContainers(_ context.Context, r *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	return &runtimeapi.ListContainersResponse{Containers: s.rt.listContainers(r.GetFilter())}, nil
}

func (s *Service) ContainerStatus(_ context.Context, r *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	st, info, err := s.rt.containerStatus(r.GetContainerId(), r.GetVerbose())
	return reply(&runtimeapi.ContainerStatusResponse{Status: st, Info: info}, err)
}

func (s *Service) ReopenContainerLog(_ context.Context, r *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	return reply(&runtimeapi.ReopenContainerLogResponse{}, s.rt.reopenContainerLog(r.GetContainerId()))
}
