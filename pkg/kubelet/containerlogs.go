package kubelet

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/kubelet/logs"
)

// GetKubeletContainerLogs picks the container attempt the options ask for
// and copies its log (upstream's Kubelet.GetKubeletContainerLogs, then the
// runtime manager's GetContainerLogs and ReadLogs).
func (k *Kubelet) GetKubeletContainerLogs(ctx context.Context, pod *v1.Pod, container string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error {
	status := k.previousStatus(pod)
	id, err := containerLogID(pod.Name, &status, container, opts.Previous)
	if err != nil {
		return err
	}
	// Commit the 200 before waiting for the first line.
	if stdout != nil {
		if _, err := stdout.Write(nil); err != nil {
			return err
		}
	} else if _, err := stderr.Write(nil); err != nil {
		return err
	}
	cs, err := k.runtime.ContainerStatus(ctx, id)
	if err != nil {
		return fmt.Errorf("unable to retrieve container logs for %s", k.containerID(id))
	}
	running := func(ctx context.Context) (bool, error) {
		cs, err := k.runtime.ContainerStatus(ctx, id)
		if err != nil {
			return false, err
		}
		return cs.State == runtimeapi.ContainerState_CONTAINER_RUNNING, nil
	}
	return logs.ReadLogs(ctx, k.logPath(cs), logs.NewOptions(opts, time.Now()), running, stdout, stderr)
}

// containerLogID picks the runtime ID of the attempt whose log to show, as
// kubelet_pods.go validateContainerLogStatus: the previous one if asked,
// else the running one, else the last that ran.
func containerLogID(podName string, status *v1.PodStatus, container string, previous bool) (string, error) {
	var cs *v1.ContainerStatus
	for _, list := range [][]v1.ContainerStatus{status.ContainerStatuses, status.InitContainerStatuses, status.EphemeralContainerStatuses} {
		for i := range list {
			if list[i].Name == container {
				cs = &list[i]
			}
		}
	}
	if cs == nil {
		return "", fmt.Errorf("container %q in pod %q is not available", container, podName)
	}
	last := cs.LastTerminationState.Terminated
	var cid string
	switch {
	case previous:
		if last == nil || last.ContainerID == "" {
			return "", fmt.Errorf("previous terminated container %q in pod %q not found", container, podName)
		}
		cid = last.ContainerID
	case cs.State.Running != nil:
		cid = cs.ContainerID
	case cs.State.Terminated != nil:
		cid = cs.State.Terminated.ContainerID
		if cid == "" {
			if last == nil || last.ContainerID == "" {
				return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
			}
			cid = last.ContainerID
		}
	case last != nil:
		if last.ContainerID == "" {
			return "", fmt.Errorf("container %q in pod %q is terminated", container, podName)
		}
		cid = last.ContainerID
	case cs.State.Waiting != nil:
		switch reason := cs.State.Waiting.Reason; reason {
		case errImagePull.Error():
			return "", fmt.Errorf("container %q in pod %q is waiting to start: image can't be pulled", container, podName)
		case errImagePullBackOff.Error():
			return "", fmt.Errorf("container %q in pod %q is waiting to start: trying and failing to pull image", container, podName)
		default:
			return "", fmt.Errorf("container %q in pod %q is waiting to start: %v", container, podName, reason)
		}
	default:
		return "", fmt.Errorf("container %q in pod %q is waiting to start - no logs yet", container, podName)
	}
	// "<runtime>://<id>" (kubecontainer.ParseContainerID).
	if _, id, ok := strings.Cut(cid, "://"); ok {
		return id, nil
	}
	return cid, nil
}
