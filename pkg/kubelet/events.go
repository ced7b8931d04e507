package kubelet

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Events are what `kubectl describe pod` shows of the kubelet's work, with
// upstream's reasons, types and messages (pkg/kubelet/events/event.go, and
// where the kubelet records them: images/image_manager.go,
// kuberuntime/kuberuntime_container.go). client-go's record package sends
// them, aggregating repeats, as upstream's kubelet does.
const (
	eventPulling = "Pulling"
	eventPulled  = "Pulled"
	eventFailed  = "Failed"
	eventBackOff = "BackOff"
	eventCreated = "Created"
	eventStarted = "Started"
	eventKilling = "Killing"
)

// startEvents starts sending the kubelet's events to the apiserver, as
// kubelet "kubelet" of this node; the returned stop flushes none and ends
// the broadcaster's goroutines.
func (k *Kubelet) startEvents(ctx context.Context) (stop func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: k.client.CoreV1().Events("")})
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, v1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})
	return broadcaster.Shutdown
}

// containerEvent records an event of container c of pod, which refers to
// the pod with the container's field path (kubecontainer.GenerateContainerRef).
// A Kubelet that does not run (a test's) records nothing.
func (k *Kubelet) containerEvent(pod *v1.Pod, container, eventType, reason, messageFmt string, args ...any) {
	if k.recorder == nil {
		return
	}
	ref := &v1.ObjectReference{
		Kind: "Pod", APIVersion: "v1", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID,
		ResourceVersion: pod.ResourceVersion, FieldPath: fmt.Sprintf("spec.containers{%s}", container),
	}
	k.recorder.Eventf(ref, eventType, reason, messageFmt, args...)
}
