package fakecri

import (
	"context"
	"errors"
	"fmt"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// ExecSync's timeout is in seconds, 0 for none. A command that runs answers
// its exit code whatever it is; one that cannot start, or outlives the
// timeout (codes.DeadlineExceeded), answers an error, as containerd.
func (s *Service) ExecSync(ctx context.Context, r *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	return reply(s.rt.execSync(ctx, r.GetContainerId(), r.GetCmd(), time.Duration(r.GetTimeout())*time.Second))
}

// Exec checks the container runs and that there is a command, then answers
// a URL of the streaming server, which runs the command when the client
// connects. (containerd accepts an empty command here and fails only once
// the stream starts.)
func (s *Service) Exec(ctx context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	id, err := s.runningContainer(r.GetContainerId())
	if err != nil {
		return nil, toStatus(err)
	}
	if len(r.GetCmd()) == 0 {
		return nil, toStatus(fmt.Errorf("no command to execute: %w", errInvalidArgument))
	}
	r.ContainerId = id
	s.rt.log.InfoContext(ctx, "CRI Exec", "container", id, "cmd", r.GetCmd(), "tty", r.GetTty(), "stdin", r.GetStdin())
	return s.streams.GetExec(ctx, r)
}

func (s *Service) Attach(ctx context.Context, r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	id, err := s.runningContainer(r.GetContainerId())
	if err != nil {
		return nil, toStatus(err)
	}
	r.ContainerId = id
	return s.streams.GetAttach(ctx, r)
}

func (s *Service) PortForward(ctx context.Context, r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	sb, err := s.rt.getSandbox(r.GetPodSandboxId())
	if err != nil {
		return nil, toStatus(fmt.Errorf("failed to find sandbox %q: %w", r.GetPodSandboxId(), err))
	}
	if sb.getState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return nil, toStatus(errors.New("sandbox container is not running"))
	}
	r.PodSandboxId = sb.id
	return s.streams.GetPortForward(ctx, r)
}

// runningContainer resolves id to a running container's full ID, with
// containerd's errors.
func (s *Service) runningContainer(id string) (string, error) {
	c, err := s.rt.getContainer(id)
	if err != nil {
		return "", fmt.Errorf("failed to find container %q in store: %w", id, err)
	}
	if state := c.state(); state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		return "", fmt.Errorf("container is in %s state", state)
	}
	return c.id, nil
}
