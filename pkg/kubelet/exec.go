package kubelet

import (
	"context"
	"fmt"
	"net/url"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/kubelet/server"

	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/pkg/tracing"
)

// findContainer returns the running container of the pod with that name,
// by pod UID when given, else by pod name and namespace (kubelet_pods.go
// findContainer over the runtime's running pods).
func (k *Kubelet) findContainer(ctx context.Context, pod *v1.Pod, podUID types.UID, name string) (string, error) {
	selector := map[string]string{containerNameLabel: name}
	if podUID != "" {
		selector[podUIDLabel] = string(podUID)
	} else {
		selector[podNameLabel] = pod.Name
		selector[podNamespaceLabel] = pod.Namespace
	}
	containers, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		LabelSelector: selector,
	})
	if err != nil {
		return "", err
	}
	var newest *runtimeapi.Container
	for _, c := range containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING || !hasLabels(c.Labels, selector) {
			continue
		}
		if newest == nil || c.CreatedAt > newest.CreatedAt {
			newest = c
		}
	}
	if newest == nil {
		return "", nil
	}
	trace.SpanFromContext(ctx).AddEvent(tracing.PhaseContainerFound, trace.WithAttributes(tracing.AttrContainerID.String(newest.Id)))
	return newest.Id, nil
}

// GetExec is upstream's Kubelet.GetExec (kubelet_pods.go) and
// kubeGenericRuntimeManager.GetExec (kuberuntime_container.go): find the
// container and ask the runtime for the URL of an exec session in it.
func (k *Kubelet) GetExec(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, cmd []string, streamOpts server.StreamOptions) (*url.URL, error) {
	id, err := k.findContainer(ctx, pod, podUID, containerName)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("container not found (%q)", containerName)
	}
	return k.runtime.Exec(ctx, &runtimeapi.ExecRequest{
		ContainerId: id,
		Cmd:         cmd,
		Tty:         streamOpts.TTY,
		Stdin:       streamOpts.Stdin,
		Stdout:      streamOpts.Stdout,
		Stderr:      streamOpts.Stderr,
	})
}

// GetAttach is upstream's Kubelet.GetAttach: the TTY setting must be the
// container's, since a process cannot gain or lose a terminal after it
// started.
func (k *Kubelet) GetAttach(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, streamOpts server.StreamOptions) (*url.URL, error) {
	podFullName := pod.Name + "_" + pod.Namespace
	id, err := k.findContainer(ctx, pod, podUID, containerName)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("container %s not found in pod %s", containerName, podFullName)
	}
	if podUID != "" && pod.UID != podUID {
		return nil, fmt.Errorf("pod %s not found", podFullName)
	}
	spec := server.ContainerSpec(pod, containerName)
	if spec == nil {
		return nil, fmt.Errorf("container %s not found in pod %s", containerName, podFullName)
	}
	return k.runtime.Attach(ctx, &runtimeapi.AttachRequest{
		ContainerId: id,
		Stdin:       streamOpts.Stdin,
		Stdout:      streamOpts.Stdout,
		Stderr:      streamOpts.Stderr,
		Tty:         spec.TTY,
	})
}

// GetPortForward is upstream's Kubelet.GetPortForward: the pod must have a
// ready sandbox, whose newest is forwarded into.
func (k *Kubelet) GetPortForward(ctx context.Context, pod *v1.Pod, ports []int32) (*url.URL, error) {
	sandboxes, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{
		LabelSelector: map[string]string{podUIDLabel: string(pod.UID)},
	})
	if err != nil {
		return nil, err
	}
	var newest *runtimeapi.PodSandbox
	for _, s := range sandboxes {
		if s.Labels[podUIDLabel] == string(pod.UID) && s.State == runtimeapi.PodSandboxState_SANDBOX_READY &&
			(newest == nil || s.CreatedAt > newest.CreatedAt) {
			newest = s
		}
	}
	if newest == nil {
		return nil, fmt.Errorf("pod not found (%q)", pod.Name+"_"+pod.Namespace)
	}
	return k.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: newest.Id, Port: ports})
}
