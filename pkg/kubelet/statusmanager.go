package kubelet

import (
	"context"
	"fmt"
	"sync"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
)

// setTransitionTimes keeps a condition's last transition time while its
// status stays the same, else stamps now (status manager
// updateLastTransitionTime).
func setTransitionTimes(s, old *v1.PodStatus) {
	now := metav1.Now().Rfc3339Copy()
	for i := range s.Conditions {
		c := &s.Conditions[i]
		if !conditionByKubelet(c.Type) {
			continue
		}
		c.LastTransitionTime = now
		for _, o := range old.Conditions {
			if o.Type == c.Type && o.Status == c.Status {
				c.LastTransitionTime = o.LastTransitionTime
			}
		}
	}
}

// updateStatus writes the pod's status if it changed, reading the pod
// first so the write carries its latest resource version, and again on a
// conflict (the status manager's syncPod; retry.RetryOnConflict as
// upstream's status updaters use it).
func (k *Kubelet) updateStatus(ctx context.Context, pod *v1.Pod, status v1.PodStatus) {
	if last, ok := k.statuses.get(pod.UID); ok && apiequality.Semantic.DeepEqual(last, status) {
		return
	}
	pods := k.client.CoreV1().Pods(pod.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		latest, err := pods.Get(ctx, pod.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) || (err == nil && latest.UID != pod.UID) {
			// Gone, or a new pod of the same name: nothing to report.
			return nil
		}
		if err != nil {
			return fmt.Errorf("get pod for status update: %w", err)
		}
		merged := mergeStatus(latest.Status, status)
		if apiequality.Semantic.DeepEqual(latest.Status, merged) {
			k.statuses.set(pod.UID, merged)
			return nil
		}
		latest.Status = merged
		if _, err := pods.UpdateStatus(ctx, latest, metav1.UpdateOptions{}); err != nil {
			return err
		}
		k.statuses.set(pod.UID, merged)
		k.log.Info("updated pod status", logAttrs(pod), "phase", merged.Phase)
		return nil
	})
	if err != nil && ctx.Err() == nil {
		k.log.Error("update pod status", logAttrs(pod), "err", err)
	}
}

// mergeStatus takes the kubelet's status with the conditions others own
// from the latest API status (status manager mergePodStatus).
func mergeStatus(latest, status v1.PodStatus) v1.PodStatus {
	merged := status
	merged.Conditions = nil
	for _, c := range latest.Conditions {
		if !conditionByKubelet(c.Type) {
			merged.Conditions = append(merged.Conditions, c)
		}
	}
	for _, c := range status.Conditions {
		if conditionByKubelet(c.Type) {
			merged.Conditions = append(merged.Conditions, c)
		}
	}
	setTransitionTimes(&merged, &latest)
	return merged
}

// statusCache remembers the last status written for each pod.
type statusCache struct {
	mu sync.Mutex
	m  map[types.UID]v1.PodStatus
}

func (c *statusCache) get(uid types.UID) (v1.PodStatus, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[uid]
	return s, ok
}

func (c *statusCache) set(uid types.UID, s v1.PodStatus) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[types.UID]v1.PodStatus{}
	}
	c.m[uid] = s
}

func (c *statusCache) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, uid)
}
