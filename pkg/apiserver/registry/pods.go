package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/execlab/execlab/internal/qos"
)

// Pods, after pkg/registry/core/pod/strategy.go and storage/storage.go.

func newPodResource() *Resource {
	return &Resource{
		gr:             corev1.Resource("pods"),
		gv:             corev1.SchemeGroupVersion,
		kind:           "Pod",
		singular:       "pod",
		namespaced:     true,
		shortNames:     []string{"po"},
		categories:     []string{"all"},
		verbs:          []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		newObject:      func() Object { return &corev1.Pod{} },
		newList:        func(items []Object) runtime.Object { return &corev1.PodList{Items: itemsOf[corev1.Pod](items)} },
		defaults:       defaultPod,
		strategy:       podStrategy{},
		status:         podStatusStrategy{},
		fields:         podFields,
		table:          podTable,
		returnDeleted:  true,
		gracefulDelete: podGracefulDelete,
	}
}

type podStrategy struct{}

// prepareForCreate starts every pod Pending with its QoS class; the
// scheduler and kubelet write the rest of the status.
func (podStrategy) prepareForCreate(obj Object) {
	pod := obj.(*corev1.Pod)
	pod.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qos.ComputePodQOS(pod)}
}

func (podStrategy) validate(obj Object) field.ErrorList {
	return validatePod(obj.(*corev1.Pod))
}

func (podStrategy) prepareForUpdate(obj, old Object) {
	obj.(*corev1.Pod).Status = old.(*corev1.Pod).Status
}

func (podStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return validatePodUpdate(obj.(*corev1.Pod), old.(*corev1.Pod))
}

// podStatusStrategy is pods/status: the kubelet's way to write status,
// which may not touch the spec, deletion or owners.
type podStatusStrategy struct{ podStrategy }

func (podStatusStrategy) prepareForUpdate(obj, old Object) {
	pod, prev := obj.(*corev1.Pod), old.(*corev1.Pod)
	pod.Spec = prev.Spec
	pod.DeletionTimestamp = nil
	pod.OwnerReferences = prev.OwnerReferences
	if pod.Status.QOSClass == "" {
		pod.Status.QOSClass = prev.Status.QOSClass
	}
}

func (podStatusStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return validateMetaUpdate(obj, old)
}

// podGracefulDelete is CheckGracefulDelete: the grace period asked for, else
// the pod's own; none for a pod no node runs or one already finished.
func podGracefulDelete(obj Object, opts *metav1.DeleteOptions) bool {
	pod := obj.(*corev1.Pod)
	var period int64
	switch {
	case opts.GracePeriodSeconds != nil:
		period = *opts.GracePeriodSeconds
	case pod.Spec.TerminationGracePeriodSeconds != nil:
		period = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded {
		period = 0
	}
	if period < 0 {
		period = 1
	}
	opts.GracePeriodSeconds = &period
	return true
}

// podFields are the pod fields a field selector may name (ToSelectableFields).
func podFields(obj Object) fields.Set {
	pod := obj.(*corev1.Pod)
	set := objectMetaFields(pod, true)
	set["spec.nodeName"] = pod.Spec.NodeName
	set["spec.restartPolicy"] = string(pod.Spec.RestartPolicy)
	set["spec.schedulerName"] = pod.Spec.SchedulerName
	set["spec.serviceAccountName"] = pod.Spec.ServiceAccountName
	set["spec.hostNetwork"] = strconv.FormatBool(pod.Spec.HostNetwork)
	set["status.phase"] = string(pod.Status.Phase)
	podIP := ""
	if len(pod.Status.PodIPs) > 0 {
		podIP = pod.Status.PodIPs[0].IP
	}
	set["status.podIP"] = podIP
	set["status.nominatedNodeName"] = pod.Status.NominatedNodeName
	return set
}
