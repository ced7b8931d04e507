package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"time"

	"google.golang.org/grpc/status"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// syncPod brings the runtime in line with one pod and reports its status.
// It returns true once the pod is gone from both the API and the runtime.
func (k *Kubelet) syncPod(ctx context.Context, uid types.UID) bool {
	pod := k.podByUID(uid)
	rt, err := k.getPodRuntime(ctx, uid)
	if err != nil {
		if ctx.Err() == nil {
			k.log.Error("read pod from the runtime", "uid", uid, "err", err)
		}
		return false
	}
	switch {
	case pod == nil:
		// Deleted while we were not looking (or force-deleted): clean up.
		if !rt.empty() {
			if err := k.terminate(ctx, nil, rt); err != nil {
				k.log.Error("clean up orphaned pod", "uid", uid, "err", err)
				return false
			}
			k.log.Info("removed orphaned pod", "uid", uid)
		}
		k.forget(uid)
		return true
	case pod.DeletionTimestamp != nil:
		if err := k.terminate(ctx, pod, rt); err != nil {
			k.log.Error("terminate pod", logAttrs(pod), "err", err)
			return false
		}
		if err := k.deletePod(ctx, pod); err != nil {
			k.log.Error("delete pod", logAttrs(pod), "err", err)
			return false
		}
		k.log.Info("pod terminated and deleted", logAttrs(pod))
		k.forget(uid)
		return true
	case isTerminal(k.knownPhase(pod)):
		// Succeeded or Failed: nothing runs again; the sandbox stops as
		// upstream kills terminal pods.
		if err := k.stopPod(ctx, pod, rt); err != nil {
			k.log.Error("stop terminated pod", logAttrs(pod), "err", err)
		}
		return false
	}

	changed, err := k.startPod(ctx, pod, rt)
	if err != nil {
		k.log.Error("sync pod", logAttrs(pod), "err", err)
	}
	if changed {
		if rt, err = k.getPodRuntime(ctx, uid); err != nil {
			if ctx.Err() == nil {
				k.log.Error("read pod from the runtime", logAttrs(pod), "err", err)
			}
			return false
		}
	}
	status := k.generatePodStatus(pod, rt)
	k.updateStatus(ctx, pod, status)
	if isTerminal(status.Phase) {
		if err := k.stopPod(ctx, pod, rt); err != nil {
			k.log.Error("stop terminated pod", logAttrs(pod), "err", err)
		}
	}
	return false
}

func isTerminal(phase v1.PodPhase) bool {
	return phase == v1.PodSucceeded || phase == v1.PodFailed
}

// startPod ensures a ready sandbox and starts or restarts each container
// as its state and the restart policy ask, as kuberuntime_manager.go
// computePodActions and SyncPod do for pods without init containers. It
// reports whether it changed anything in the runtime.
func (k *Kubelet) startPod(ctx context.Context, pod *v1.Pod, rt *podRuntime) (changed bool, err error) {
	sandbox := rt.readySandbox()
	if sandbox == nil {
		changed = true
		// Containers of a dead sandbox cannot stay: stop them first.
		if err := k.stopContainers(ctx, pod, rt); err != nil {
			return changed, err
		}
		var attempt uint32
		if len(rt.sandboxes) > 0 {
			attempt = rt.sandboxes[0].Metadata.GetAttempt() + 1
		}
		cfg := k.podSandboxConfig(pod, attempt)
		if err := os.MkdirAll(cfg.LogDirectory, 0o755); err != nil {
			return changed, fmt.Errorf("create log directory for pod %s: %w", formatPod(pod), err)
		}
		id, err := k.runtime.RunPodSandbox(ctx, cfg)
		if err != nil {
			return changed, fmt.Errorf("create sandbox for pod %s: %w", formatPod(pod), err)
		}
		k.log.Info("started pod sandbox", logAttrs(pod), "sandbox", id, "attempt", attempt)
		if len(pod.Spec.InitContainers) > 0 {
			k.log.Warn("init containers are not supported; starting the containers directly", logAttrs(pod))
		}
		if rt, err = k.getPodRuntime(ctx, pod.UID); err != nil {
			return changed, err
		}
		if sandbox = rt.readySandbox(); sandbox == nil || sandbox.Id != id {
			return changed, fmt.Errorf("sandbox %s of pod %s is not ready", id, formatPod(pod))
		}
	}
	sandboxConfig := k.podSandboxConfig(pod, sandbox.Metadata.GetAttempt())
	for i := range pod.Spec.Containers {
		c := &pod.Spec.Containers[i]
		attempts := rt.named(c.Name)
		restartCount, start := k.nextAttempt(pod, c, sandbox.Id, attempts)
		if start {
			k.startContainer(ctx, pod, c, sandbox.Id, sandboxConfig, restartCount)
			changed = true
		}
		if k.pruneContainers(ctx, attempts) {
			changed = true
		}
	}
	return changed, nil
}

// nextAttempt decides whether a container must be (re)started and with
// which restart count (kubecontainer.ShouldContainerBeRestarted plus the
// crash-loop back-off of kuberuntime_manager.go doBackOff).
func (k *Kubelet) nextAttempt(pod *v1.Pod, c *v1.Container, sandboxID string, attempts []runtimeContainer) (restartCount int, start bool) {
	if len(attempts) == 0 {
		// Count on from the log files if the runtime forgot the container.
		return k.restartCountFromLogs(pod, c.Name), true
	}
	latest := attempts[0]
	next := restartCountOf(latest.Annotations) + 1
	switch latest.State {
	case runtimeapi.ContainerState_CONTAINER_RUNNING:
		if latest.sandboxID == sandboxID {
			return 0, false
		}
		// Left over from an earlier sandbox: stopped above, start anew.
		return next, true
	case runtimeapi.ContainerState_CONTAINER_CREATED:
		// Created but never started: upstream always retries.
		return next, true
	}
	switch pod.Spec.RestartPolicy {
	case v1.RestartPolicyNever:
		return 0, false
	case v1.RestartPolicyOnFailure:
		if latest.ExitCode == 0 {
			return 0, false
		}
	}
	key := backOffKey(pod, c)
	finishedAt := time.Unix(0, latest.FinishedAt)
	if k.crashBackOff.IsInBackOffSince(key, finishedAt) {
		k.reasons.set(pod.UID, c.Name, errCrashLoopBackOff.Error(),
			fmt.Sprintf("back-off %s restarting failed container=%s pod=%s", k.crashBackOff.Get(key), c.Name, formatPod(pod)))
		k.containerEvent(pod, c.Name, v1.EventTypeWarning, eventBackOff, "Back-off restarting failed container %s in pod %s", c.Name, formatPod(pod))
		return 0, false
	}
	k.crashBackOff.Next(key, finishedAt)
	return next, true
}

// startContainer pulls, creates and starts one attempt of a container,
// recording why it could not for the container's waiting state.
func (k *Kubelet) startContainer(ctx context.Context, pod *v1.Pod, c *v1.Container, sandboxID string, sandboxConfig *runtimeapi.PodSandboxConfig, restartCount int) {
	fail := func(reason error, msg string) {
		k.reasons.set(pod.UID, c.Name, reason.Error(), msg)
		// Upstream's event gives the runtime's message, or for an image the
		// reason alone: the image manager's error is ErrImagePull and the like
		// (kuberuntime_container.go startContainer).
		detail := msg
		if slices.Contains(imageReasons, reason) {
			detail = reason.Error()
		}
		k.containerEvent(pod, c.Name, v1.EventTypeWarning, eventFailed, "Error: %s", detail)
		k.log.Warn("container did not start", logAttrs(pod), "container", c.Name, "reason", reason.Error(), "message", msg)
	}
	imageRef, msg, err := k.ensureImage(ctx, pod, c, sandboxConfig)
	if err != nil {
		fail(err, msg)
		return
	}
	config, err := k.containerConfig(pod, c, restartCount, imageRef, k.nodeIP)
	if err != nil {
		fail(errCreateContainerConfig, err.Error())
		return
	}
	id, err := k.runtime.CreateContainer(ctx, sandboxID, config, sandboxConfig)
	if err != nil {
		fail(errCreateContainer, status.Convert(err).Message())
		return
	}
	k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventCreated, "Created container: %s", c.Name)
	if err := k.runtime.StartContainer(ctx, id); err != nil {
		fail(errRunContainer, status.Convert(err).Message())
		return
	}
	k.containerEvent(pod, c.Name, v1.EventTypeNormal, eventStarted, "Started container %s", c.Name)
	k.reasons.clear(pod.UID, c.Name)
	k.log.Info("started container", logAttrs(pod), "container", c.Name, "id", id, "restartCount", restartCount)
}

// pruneContainers removes the exited attempts of a container that logs
// --previous can no longer ask for, with their log files, as the
// container garbage collector does (kuberuntime_gc.go, one dead container
// kept per container). It reports whether it removed any.
func (k *Kubelet) pruneContainers(ctx context.Context, attempts []runtimeContainer) (removed bool) {
	keep := 1
	if len(attempts) > 0 && attempts[0].State != runtimeapi.ContainerState_CONTAINER_EXITED {
		keep = 2
	}
	for _, c := range attempts[min(keep, len(attempts)):] {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		if err := k.runtime.RemoveContainer(ctx, c.Id); err != nil {
			k.log.Warn("remove old container", "id", c.Id, "err", err)
			continue
		}
		removed = true
		if err := os.Remove(k.logPath(c.ContainerStatus)); err != nil && !errors.Is(err, os.ErrNotExist) {
			k.log.Warn("remove old container log", "id", c.Id, "err", err)
		}
	}
	return removed
}

// restartCountFromLogs continues counting after the highest
// <restartCount>.log in the container's log directory (upstream
// calcRestartCountByLogDir), so a restart count survives a runtime that
// lost its containers.
func (k *Kubelet) restartCountFromLogs(pod *v1.Pod, container string) int {
	dir := filepath.Join(podLogsDirectory(k.cfg.RootDir, pod.Namespace, pod.Name, pod.UID), container)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	count := 0
	for _, e := range entries {
		m := restartCountLogFile.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			continue
		}
		if n, err := strconv.Atoi(m[1]); err == nil && n+1 > count {
			count = n + 1
		}
	}
	return count
}

var restartCountLogFile = regexp.MustCompile(`^(\d+)\.log(\..*)?`)

// backOffKey identifies a container's crash loop (upstream getStableKey,
// keyed by UID first so a pod's keys can be dropped together).
func backOffKey(pod *v1.Pod, c *v1.Container) string {
	return fmt.Sprintf("%s_%s_%s_%s_%x", pod.UID, pod.Name, pod.Namespace, c.Name, hashContainer(c))
}

// formatPod is upstream format.Pod: name_namespace(uid).
func formatPod(pod *v1.Pod) string {
	return fmt.Sprintf("%s_%s(%s)", pod.Name, pod.Namespace, pod.UID)
}
