package kubelet

import (
	"fmt"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/qos"
)

const (
	containersNotReady     = "ContainersNotReady"
	readinessGatesNotReady = "ReadinessGatesNotReady"
	podCompleted           = "PodCompleted"
	podFailed              = "PodFailed"
	containerCreating      = "ContainerCreating"
)

// generatePodStatus computes the status the kubelet reports for a pod from
// the runtime, as kubelet_pods.go generateAPIPodStatus does.
func (k *Kubelet) generatePodStatus(pod *v1.Pod, rt *podRuntime) v1.PodStatus {
	old := k.previousStatus(pod)
	s := v1.PodStatus{
		ObservedGeneration: pod.Generation,
		HostIP:             k.nodeIP,
		HostIPs:            []v1.HostIP{{IP: k.nodeIP}},
		// Every pod shares the node's network, so its IP is the node's.
		PodIP:     k.nodeIP,
		PodIPs:    []v1.PodIP{{IP: k.nodeIP}},
		StartTime: old.StartTime,
		QOSClass:  qos.GetPodQOS(pod),
	}
	if s.StartTime == nil {
		now := metav1.Now().Rfc3339Copy()
		s.StartTime = &now
	}
	for i := range pod.Spec.Containers {
		s.ContainerStatuses = append(s.ContainerStatuses, k.containerStatus(pod, &pod.Spec.Containers[i], rt.named(pod.Spec.Containers[i].Name)))
	}
	s.Phase = getPhase(&pod.Spec, s.ContainerStatuses)
	// A terminal phase is final (the "illegal phase transition" guard).
	if isTerminal(old.Phase) && s.Phase != old.Phase {
		s.Phase = old.Phase
	}

	// Conditions the kubelet does not own stay as they are.
	for _, c := range pod.Status.Conditions {
		if !conditionByKubelet(c.Type) {
			s.Conditions = append(s.Conditions, c)
		}
	}
	sandboxReady := v1.ConditionFalse
	if rt.readySandbox() != nil {
		sandboxReady = v1.ConditionTrue
	}
	containersReady := containersReadyCondition(pod, s.ContainerStatuses, s.Phase)
	s.Conditions = append(s.Conditions,
		v1.PodCondition{Type: v1.PodReadyToStartContainers, Status: sandboxReady},
		v1.PodCondition{Type: v1.PodInitialized, Status: v1.ConditionTrue},
		podReadyCondition(pod, containersReady),
		containersReady,
		v1.PodCondition{Type: v1.PodScheduled, Status: v1.ConditionTrue},
	)
	for i := range s.Conditions {
		if conditionByKubelet(s.Conditions[i].Type) {
			s.Conditions[i].ObservedGeneration = pod.Generation
		}
	}
	setTransitionTimes(&s, &old)
	return s
}

// previousStatus is the last status the kubelet wrote, or the API's.
func (k *Kubelet) previousStatus(pod *v1.Pod) v1.PodStatus {
	if s, ok := k.statuses.get(pod.UID); ok {
		return s
	}
	return pod.Status
}

// knownPhase is the pod's phase as last written by this kubelet or read
// from the API.
func (k *Kubelet) knownPhase(pod *v1.Pod) v1.PodPhase {
	return k.previousStatus(pod).Phase
}

// containerStatus reports one container from its newest attempts, as
// convertToAPIContainerStatuses does.
func (k *Kubelet) containerStatus(pod *v1.Pod, c *v1.Container, attempts []runtimeContainer) v1.ContainerStatus {
	cs := v1.ContainerStatus{Name: c.Name, Image: c.Image, Started: new(false)}
	reason, hasReason := k.reasons.get(pod.UID, c.Name)
	if len(attempts) == 0 {
		cs.State.Waiting = &v1.ContainerStateWaiting{Reason: containerCreating}
		if hasReason {
			cs.State.Waiting = &v1.ContainerStateWaiting{Reason: reason.reason, Message: reason.message}
		}
		return cs
	}
	latest := attempts[0]
	cs.ContainerID = k.containerID(latest.Id)
	if latest.Image != nil && latest.Image.Image != "" {
		cs.Image = latest.Image.Image
	}
	cs.ImageID = latest.ImageRef
	if latest.ImageId != "" {
		cs.ImageID = latest.ImageId
	}
	cs.RestartCount = int32(restartCountOf(latest.Annotations))
	if latest.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
		cs.State.Running = &v1.ContainerStateRunning{StartedAt: apiTime(latest.StartedAt)}
		// Without probes, a running container is started and ready.
		cs.Ready = true
		cs.Started = new(true)
		if len(attempts) > 1 {
			cs.LastTerminationState.Terminated = k.terminatedState(attempts[1].ContainerStatus)
		}
		return cs
	}
	cs.State.Terminated = k.terminatedState(latest.ContainerStatus)
	if hasReason && shouldRestart(pod, latest.ContainerStatus) {
		cs.LastTerminationState.Terminated = cs.State.Terminated
		cs.State = v1.ContainerState{Waiting: &v1.ContainerStateWaiting{Reason: reason.reason, Message: reason.message}}
	} else if len(attempts) > 1 {
		cs.LastTerminationState.Terminated = k.terminatedState(attempts[1].ContainerStatus)
	}
	return cs
}

// shouldRestart is kubecontainer.ShouldContainerBeRestarted for a container
// that is not running.
func shouldRestart(pod *v1.Pod, c *runtimeapi.ContainerStatus) bool {
	if c.State != runtimeapi.ContainerState_CONTAINER_EXITED {
		return true
	}
	switch pod.Spec.RestartPolicy {
	case v1.RestartPolicyNever:
		return false
	case v1.RestartPolicyOnFailure:
		return c.ExitCode != 0
	}
	return true
}

func (k *Kubelet) terminatedState(c *runtimeapi.ContainerStatus) *v1.ContainerStateTerminated {
	t := &v1.ContainerStateTerminated{
		ExitCode:    c.ExitCode,
		Reason:      c.Reason,
		Message:     c.Message,
		FinishedAt:  apiTime(c.FinishedAt),
		ContainerID: k.containerID(c.Id),
	}
	if c.State != runtimeapi.ContainerState_CONTAINER_CREATED {
		t.StartedAt = apiTime(c.StartedAt)
	}
	return t
}

// containerID is "<runtime name>://<id>" (kubecontainer.ContainerID).
func (k *Kubelet) containerID(id string) string {
	return k.runtimeName + "://" + id
}

// apiTime converts CRI nanoseconds to an API time with the second precision
// it has on the wire, so that statuses compare equal after a round trip.
func apiTime(ns int64) metav1.Time {
	if ns == 0 {
		return metav1.Time{}
	}
	return metav1.NewTime(time.Unix(0, ns)).Rfc3339Copy()
}

// getPhase is kubelet_pods.go getPhase for pods without init containers.
func getPhase(spec *v1.PodSpec, statuses []v1.ContainerStatus) v1.PodPhase {
	var unknown, running, waiting, stopped, succeeded int
	for _, cs := range statuses {
		switch {
		case cs.State.Running != nil:
			running++
		case cs.State.Terminated != nil:
			stopped++
			if cs.State.Terminated.ExitCode == 0 {
				succeeded++
			}
		case cs.State.Waiting != nil:
			if cs.LastTerminationState.Terminated != nil {
				stopped++
			} else {
				waiting++
			}
		default:
			unknown++
		}
	}
	unknown += len(spec.Containers) - len(statuses)
	switch {
	case waiting > 0:
		return v1.PodPending
	case running > 0 && unknown == 0:
		return v1.PodRunning
	case running == 0 && stopped > 0 && unknown == 0:
		if spec.RestartPolicy == v1.RestartPolicyAlways {
			// All containers are restarting.
			return v1.PodRunning
		}
		if stopped == succeeded {
			return v1.PodSucceeded
		}
		if spec.RestartPolicy == v1.RestartPolicyNever {
			return v1.PodFailed
		}
		// OnFailure with a failure: restarting.
		return v1.PodRunning
	default:
		return v1.PodPending
	}
}

// containersReadyCondition is status.GenerateContainersReadyCondition.
func containersReadyCondition(pod *v1.Pod, statuses []v1.ContainerStatus, phase v1.PodPhase) v1.PodCondition {
	switch phase {
	case v1.PodSucceeded:
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: podCompleted}
	case v1.PodFailed:
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: podFailed}
	}
	ready := map[string]bool{}
	for _, cs := range statuses {
		ready[cs.Name] = cs.Ready
	}
	var unknown, unready []string
	for _, c := range pod.Spec.Containers {
		r, ok := ready[c.Name]
		switch {
		case !ok:
			unknown = append(unknown, c.Name)
		case !r:
			unready = append(unready, c.Name)
		}
	}
	var messages []string
	if len(unknown) > 0 {
		messages = append(messages, fmt.Sprintf("containers with unknown status: %s", unknown))
	}
	if len(unready) > 0 {
		messages = append(messages, fmt.Sprintf("containers with unready status: %s", unready))
	}
	if len(messages) > 0 {
		return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionFalse, Reason: containersNotReady, Message: strings.Join(messages, ", ")}
	}
	return v1.PodCondition{Type: v1.ContainersReady, Status: v1.ConditionTrue}
}

// podReadyCondition is status.GeneratePodReadyCondition: ContainersReady,
// then the readiness gates.
func podReadyCondition(pod *v1.Pod, containersReady v1.PodCondition) v1.PodCondition {
	if containersReady.Status != v1.ConditionTrue {
		return v1.PodCondition{Type: v1.PodReady, Status: containersReady.Status, Reason: containersReady.Reason, Message: containersReady.Message}
	}
	var unready []string
	for _, gate := range pod.Spec.ReadinessGates {
		found := false
		for _, c := range pod.Status.Conditions {
			if c.Type != gate.ConditionType {
				continue
			}
			found = true
			if c.Status != v1.ConditionTrue {
				unready = append(unready, fmt.Sprintf("the status of pod readiness gate %q is not \"True\", but %v", gate.ConditionType, c.Status))
			}
		}
		if !found {
			unready = append(unready, fmt.Sprintf("corresponding condition of pod readiness gate %q does not exist.", gate.ConditionType))
		}
	}
	if len(unready) > 0 {
		return v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionFalse, Reason: readinessGatesNotReady, Message: strings.Join(unready, ", ")}
	}
	return v1.PodCondition{Type: v1.PodReady, Status: v1.ConditionTrue}
}

// conditionByKubelet is kubetypes.PodConditionByKubelet.
func conditionByKubelet(t v1.PodConditionType) bool {
	switch t {
	case v1.PodScheduled, v1.PodReady, v1.PodInitialized, v1.ContainersReady, v1.PodReadyToStartContainers:
		return true
	}
	return false
}
