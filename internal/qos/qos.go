// Package qos classifies a pod's quality of service, once for the
// apiserver, which records the class in the pod's status at creation, and
// for the kubelet, which sizes the pod's cgroups and OOM score by it. It
// mirrors upstream's pkg/apis/core/v1/helper/qos (GetPodQOS,
// ComputePodQOS); Kubernetes exports no library for it.
package qos

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// GetPodQOS is the class recorded in the pod's status, or else the one
// ComputePodQOS finds.
func GetPodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	return ComputePodQOS(pod)
}

// ComputePodQOS classifies a pod by the CPU and memory of its containers
// and init containers: no request or limit at all is BestEffort; limits on
// both for every container, equal to the requests, is Guaranteed; anything
// else is Burstable. A missing request counts as its limit, as the
// apiserver's defaulting makes it, so that a pod not yet defaulted
// classifies the same.
func ComputePodQOS(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	guaranteed := true
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			if !hasReq && hasLim {
				req, hasReq = lim, true
			}
			if hasReq && req.Sign() > 0 {
				add(requests, name, req)
			}
			if hasLim && lim.Sign() > 0 {
				add(limits, name, lim)
			} else {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func add(list corev1.ResourceList, name corev1.ResourceName, q resource.Quantity) {
	sum := list[name]
	sum.Add(q)
	list[name] = sum
}
