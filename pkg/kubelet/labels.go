package kubelet

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strconv"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/dump"
)

// CRI labels and annotations the kubelet puts on sandboxes and containers,
// from k8s.io/kubelet/pkg/types/labels.go and
// pkg/kubelet/kuberuntime/labels.go. The runtime keeps them, which is how a
// restarted kubelet finds what it started before.
const (
	podNameLabel       = "io.kubernetes.pod.name"
	podNamespaceLabel  = "io.kubernetes.pod.namespace"
	podUIDLabel        = "io.kubernetes.pod.uid"
	containerNameLabel = "io.kubernetes.container.name"

	podDeletionGracePeriodLabel            = "io.kubernetes.pod.deletionGracePeriod"
	podTerminationGracePeriodLabel         = "io.kubernetes.pod.terminationGracePeriod"
	containerHashLabel                     = "io.kubernetes.container.hash"
	containerRestartCountLabel             = "io.kubernetes.container.restartCount"
	containerTerminationMessagePathLabel   = "io.kubernetes.container.terminationMessagePath"
	containerTerminationMessagePolicyLabel = "io.kubernetes.container.terminationMessagePolicy"
	containerPreStopHandlerLabel           = "io.kubernetes.container.preStopHandler"
	containerPortsLabel                    = "io.kubernetes.container.ports"
)

// newPodLabels is the pod's labels plus its identity.
func newPodLabels(pod *v1.Pod) map[string]string {
	labels := make(map[string]string, len(pod.Labels)+3)
	for k, v := range pod.Labels {
		labels[k] = v
	}
	labels[podNameLabel] = pod.Name
	labels[podNamespaceLabel] = pod.Namespace
	labels[podUIDLabel] = string(pod.UID)
	return labels
}

// newPodAnnotations passes the pod's annotations through unchanged.
func newPodAnnotations(pod *v1.Pod) map[string]string {
	return pod.Annotations
}

func newContainerLabels(c *v1.Container, pod *v1.Pod) map[string]string {
	return map[string]string{
		podNameLabel:       pod.Name,
		podNamespaceLabel:  pod.Namespace,
		podUIDLabel:        string(pod.UID),
		containerNameLabel: c.Name,
	}
}

// newContainerAnnotations records what the kubelet needs to manage the
// container later without its spec: attempt, hash, grace periods.
func newContainerAnnotations(c *v1.Container, pod *v1.Pod, restartCount int) map[string]string {
	a := map[string]string{
		containerHashLabel:                     strconv.FormatUint(hashContainer(c), 16),
		containerRestartCountLabel:             strconv.Itoa(restartCount),
		containerTerminationMessagePathLabel:   c.TerminationMessagePath,
		containerTerminationMessagePolicyLabel: string(c.TerminationMessagePolicy),
	}
	if pod.DeletionGracePeriodSeconds != nil {
		a[podDeletionGracePeriodLabel] = strconv.FormatInt(*pod.DeletionGracePeriodSeconds, 10)
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		a[podTerminationGracePeriodLabel] = strconv.FormatInt(*pod.Spec.TerminationGracePeriodSeconds, 10)
	}
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		if raw, err := json.Marshal(c.Lifecycle.PreStop); err == nil {
			a[containerPreStopHandlerLabel] = string(raw)
		}
	}
	if len(c.Ports) > 0 {
		if raw, err := json.Marshal(c.Ports); err == nil {
			a[containerPortsLabel] = string(raw)
		}
	}
	return a
}

// hashContainer is upstream kubecontainer.HashContainer (1.31+): FNV-32a
// over the deep-hash dump of the JSON of the fields whose change restarts
// the container, name and image.
func hashContainer(c *v1.Container) uint64 {
	fields, _ := json.Marshal(map[string]string{"name": c.Name, "image": c.Image})
	h := fnv.New32a()
	fmt.Fprintf(h, "%v", dump.ForHash(fields))
	return uint64(h.Sum32())
}

// restartCountOf reads the attempt a container was created for; a missing or
// bad annotation counts as 0, as upstream.
func restartCountOf(annotations map[string]string) int {
	n, err := strconv.Atoi(annotations[containerRestartCountLabel])
	if err != nil {
		return 0
	}
	return n
}
