package kubelet

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// minimumGracePeriodInSeconds is the shortest stop a container gets
// (kuberuntime_container.go), so that it sees SIGTERM before SIGKILL.
const minimumGracePeriodInSeconds = 2

// defaultTerminationGracePeriod is the API default of
// spec.terminationGracePeriodSeconds.
const defaultTerminationGracePeriod = 30

// terminate stops the pod's containers within its grace period and removes
// its sandboxes and logs (killPod, then the pod's cleanup).
func (k *Kubelet) terminate(ctx context.Context, pod *v1.Pod, rt *podRuntime) error {
	if err := k.stopPod(ctx, pod, rt); err != nil {
		return err
	}
	var errs []error
	for _, s := range rt.sandboxes {
		if err := k.runtime.RemovePodSandbox(ctx, s.Id); err != nil {
			errs = append(errs, fmt.Errorf("remove sandbox %s: %w", s.Id, err))
		}
	}
	// Containers whose sandbox is already gone.
	for _, c := range rt.containers {
		if !hasSandbox(rt, c.sandboxID) {
			if err := k.runtime.RemoveContainer(ctx, c.Id); err != nil {
				errs = append(errs, fmt.Errorf("remove container %s: %w", c.Id, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if meta := sandboxMeta(pod, rt); meta != nil {
		dir := podLogsDirectory(k.cfg.RootDir, meta.Namespace, meta.Name, types.UID(meta.Uid))
		if err := os.RemoveAll(dir); err != nil {
			k.log.Warn("remove pod logs", "dir", dir, "err", err)
		}
	}
	return nil
}

func hasSandbox(rt *podRuntime, id string) bool {
	for _, s := range rt.sandboxes {
		if s.Id == id {
			return true
		}
	}
	return false
}

// sandboxMeta identifies the pod for its log directory, from the API or,
// for an orphan, from its sandbox.
func sandboxMeta(pod *v1.Pod, rt *podRuntime) *runtimeapi.PodSandboxMetadata {
	if pod != nil {
		return &runtimeapi.PodSandboxMetadata{Name: pod.Name, Namespace: pod.Namespace, Uid: string(pod.UID)}
	}
	if len(rt.sandboxes) > 0 && rt.sandboxes[0].Metadata != nil {
		return rt.sandboxes[0].Metadata
	}
	return nil
}

// stopPod stops the running containers, then the ready sandboxes.
func (k *Kubelet) stopPod(ctx context.Context, pod *v1.Pod, rt *podRuntime) error {
	if err := k.stopContainers(ctx, pod, rt); err != nil {
		return err
	}
	var errs []error
	for _, s := range rt.sandboxes {
		if s.State == runtimeapi.PodSandboxState_SANDBOX_READY {
			if err := k.runtime.StopPodSandbox(ctx, s.Id); err != nil {
				errs = append(errs, fmt.Errorf("stop sandbox %s: %w", s.Id, err))
			}
		}
	}
	return errors.Join(errs...)
}

// stopContainers stops the running containers in parallel, each with the
// pod's grace period (killContainersWithSyncResult).
func (k *Kubelet) stopContainers(ctx context.Context, pod *v1.Pod, rt *podRuntime) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, c := range rt.containers {
		if c.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			continue
		}
		grace := gracePeriod(pod, c.Annotations)
		if pod != nil {
			k.containerEvent(pod, c.GetMetadata().GetName(), v1.EventTypeNormal, eventKilling, "Stopping container %s", c.GetMetadata().GetName())
		}
		wg.Go(func() {
			if err := k.runtime.StopContainer(ctx, c.Id, grace); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("stop container %s: %w", c.Id, err))
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// gracePeriod is the deletion grace period if the pod is being deleted,
// else its termination grace period; for an orphan, what the container's
// annotations recorded. Never less than minimumGracePeriodInSeconds.
func gracePeriod(pod *v1.Pod, annotations map[string]string) int64 {
	grace := int64(defaultTerminationGracePeriod)
	switch {
	case pod != nil && pod.DeletionGracePeriodSeconds != nil:
		grace = *pod.DeletionGracePeriodSeconds
	case pod != nil && pod.Spec.TerminationGracePeriodSeconds != nil:
		grace = *pod.Spec.TerminationGracePeriodSeconds
	case pod == nil:
		for _, label := range []string{podDeletionGracePeriodLabel, podTerminationGracePeriodLabel} {
			if v, err := strconv.ParseInt(annotations[label], 10, 64); err == nil {
				grace = v
				break
			}
		}
	}
	return max(grace, minimumGracePeriodInSeconds)
}

// deletePod removes the pod object once its containers are gone, with grace
// period 0 and the UID as precondition, as the status manager does; this
// is what lets `kubectl delete pod` return.
func (k *Kubelet) deletePod(ctx context.Context, pod *v1.Pod) error {
	err := k.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		GracePeriodSeconds: new(int64),
		Preconditions:      metav1.NewUIDPreconditions(string(pod.UID)),
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		// Already gone, or a new pod of the same name.
		return nil
	}
	return err
}

// forget drops what the kubelet remembers about a pod; its back-off
// entries go with the sync loop's garbage collection.
func (k *Kubelet) forget(uid types.UID) {
	k.reasons.forget(uid)
	k.statuses.forget(uid)
}
