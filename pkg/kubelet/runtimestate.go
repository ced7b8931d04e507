package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	criapierrors "k8s.io/cri-api/pkg/errors"
)

// podRuntime is what the runtime has of one pod, newest first: the
// kubelet's PodStatus (pkg/kubelet/container.PodStatus) read over CRI.
type podRuntime struct {
	sandboxes  []*runtimeapi.PodSandbox
	containers []runtimeContainer
}

// runtimeContainer is a container's status and the sandbox it belongs to.
type runtimeContainer struct {
	*runtimeapi.ContainerStatus
	sandboxID string
}

// getPodRuntime lists the pod's sandboxes and containers by the pod UID
// label, as kuberuntime_manager.go GetPodStatus does.
func (k *Kubelet) getPodRuntime(ctx context.Context, uid types.UID) (*podRuntime, error) {
	selector := map[string]string{podUIDLabel: string(uid)}
	sandboxes, err := k.runtime.ListPodSandbox(ctx, &runtimeapi.PodSandboxFilter{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list sandboxes of pod %s: %w", uid, err)
	}
	containers, err := k.runtime.ListContainers(ctx, &runtimeapi.ContainerFilter{LabelSelector: selector})
	if err != nil {
		return nil, fmt.Errorf("list containers of pod %s: %w", uid, err)
	}
	rt := &podRuntime{}
	for _, s := range sandboxes {
		if s.Labels[podUIDLabel] == string(uid) {
			rt.sandboxes = append(rt.sandboxes, s)
		}
	}
	for _, c := range containers {
		if c.Labels[podUIDLabel] != string(uid) {
			continue
		}
		status, err := k.runtime.ContainerStatus(ctx, c.Id)
		// Removed between list and status: as if it had not been listed.
		if criapierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("status of container %s: %w", c.Id, err)
		}
		rt.containers = append(rt.containers, runtimeContainer{ContainerStatus: status, sandboxID: c.PodSandboxId})
	}
	sort.SliceStable(rt.sandboxes, func(i, j int) bool {
		return rt.sandboxes[i].CreatedAt > rt.sandboxes[j].CreatedAt
	})
	sort.SliceStable(rt.containers, func(i, j int) bool {
		if rt.containers[i].CreatedAt != rt.containers[j].CreatedAt {
			return rt.containers[i].CreatedAt > rt.containers[j].CreatedAt
		}
		return restartCountOf(rt.containers[i].Annotations) > restartCountOf(rt.containers[j].Annotations)
	})
	return rt, nil
}

func (rt *podRuntime) empty() bool { return len(rt.sandboxes) == 0 && len(rt.containers) == 0 }

// readySandbox returns the newest sandbox if it is ready.
func (rt *podRuntime) readySandbox() *runtimeapi.PodSandbox {
	if len(rt.sandboxes) > 0 && rt.sandboxes[0].State == runtimeapi.PodSandboxState_SANDBOX_READY {
		return rt.sandboxes[0]
	}
	return nil
}

// named returns the attempts of one container, newest first.
func (rt *podRuntime) named(name string) []runtimeContainer {
	var out []runtimeContainer
	for _, c := range rt.containers {
		if c.Labels[containerNameLabel] == name {
			out = append(out, c)
		}
	}
	return out
}

// logPath is the absolute log file of a container: the runtime reports it
// joined with the sandbox's log directory.
func (k *Kubelet) logPath(c *runtimeapi.ContainerStatus) string {
	if filepath.IsAbs(c.LogPath) {
		return c.LogPath
	}
	dir := podLogsDirectory(k.cfg.RootDir, c.Labels[podNamespaceLabel], c.Labels[podNameLabel], types.UID(c.Labels[podUIDLabel]))
	if c.LogPath != "" {
		return filepath.Join(dir, c.LogPath)
	}
	return filepath.Join(dir, containerLogPath(c.Labels[containerNameLabel], restartCountOf(c.Annotations)))
}
