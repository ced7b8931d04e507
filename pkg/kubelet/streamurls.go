package kubelet

import (
	"context"
	"fmt"
	"net/url"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
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
	return newest.Id, nil
}

// getExec is Kubelet.GetExec and kubeGenericRuntimeManager.GetExec: find
// the container, ask the runtime, check the URL.
func (k *Kubelet) getExec(ctx context.Context, pod *v1.Pod, params execParams, opts *streamOptions) (*url.URL, error) {
	id, err := k.findContainer(ctx, pod, params.podUID, params.containerName)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("container not found (%q)", params.containerName)
	}
	raw, err := k.runtime.Exec(ctx, &runtimeapi.ExecRequest{
		ContainerId: id,
		Cmd:         params.cmd,
		Tty:         opts.tty,
		Stdin:       opts.stdin,
		Stdout:      opts.stdout,
		Stderr:      opts.stderr,
	})
	if err != nil {
		return nil, err
	}
	return parseStreamingURL(raw)
}

// getAttach is Kubelet.GetAttach: the TTY setting must be the container's,
// since a process cannot gain or lose a terminal after it started.
func (k *Kubelet) getAttach(ctx context.Context, pod *v1.Pod, params execParams, opts *streamOptions) (*url.URL, error) {
	podFullName := pod.Name + "_" + pod.Namespace
	id, err := k.findContainer(ctx, pod, params.podUID, params.containerName)
	if err != nil {
		return nil, err
	}
	if id == "" {
		return nil, fmt.Errorf("container %s not found in pod %s", params.containerName, podFullName)
	}
	if params.podUID != "" && pod.UID != params.podUID {
		return nil, fmt.Errorf("pod %s not found", podFullName)
	}
	spec := containerSpec(pod, params.containerName)
	if spec == nil {
		return nil, fmt.Errorf("container %s not found in pod %s", params.containerName, podFullName)
	}
	raw, err := k.runtime.Attach(ctx, &runtimeapi.AttachRequest{
		ContainerId: id,
		Stdin:       opts.stdin,
		Stdout:      opts.stdout,
		Stderr:      opts.stderr,
		Tty:         spec.TTY,
	})
	if err != nil {
		return nil, err
	}
	return parseStreamingURL(raw)
}

// getPortForward is Kubelet.GetPortForward: the pod must have a ready
// sandbox, whose newest is forwarded into.
func (k *Kubelet) getPortForward(ctx context.Context, pod *v1.Pod, ports []int32) (*url.URL, error) {
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
	raw, err := k.runtime.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: newest.Id, Port: ports})
	if err != nil {
		return nil, err
	}
	return parseStreamingURL(raw)
}

// parseStreamingURL parses the runtime's streaming URL. It must be
// absolute: kubelets before the dockershim's removal resolved relative
// URLs against a streaming server of their own, which this kubelet (like
// upstream today) does not have, so a relative URL is refused here with a
// clear error instead of failing inside the proxy.
func parseStreamingURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("parse streaming URL from the container runtime: %w", err)
	}
	if !u.IsAbs() || u.Host == "" {
		return nil, fmt.Errorf("container runtime returned a relative streaming URL %q; it must be absolute (http://host:port/...)", raw)
	}
	return u, nil
}

// containerSpec finds a container of the pod by name
// (kubecontainer.GetContainerSpec).
func containerSpec(pod *v1.Pod, name string) *v1.Container {
	for _, list := range [][]v1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for i := range list {
			if list[i].Name == name {
				return &list[i]
			}
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			return (*v1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		}
	}
	return nil
}
