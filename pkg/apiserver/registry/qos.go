package registry

import (
	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
)

// podQOSClass computes a pod's quality of service class the way the
// apiserver does at creation (pkg/apis/core/helper/qos.ComputePodQOS): only
// CPU and memory count; no requests or limits at all is BestEffort; limits
// on both for every container, equal to the requests, is Guaranteed.
func podQOSClass(pod *corev1.Pod) corev1.PodQOSClass {
	requests := corev1.ResourceList{}
	limits := corev1.ResourceList{}
	zero := apiresource.MustParse("0")
	guaranteed := true
	add := func(sum corev1.ResourceList, name corev1.ResourceName, q apiresource.Quantity) {
		total := q.DeepCopy()
		if prev, ok := sum[name]; ok {
			total.Add(prev)
		}
		sum[name] = total
	}
	containers := append(append([]corev1.Container(nil), pod.Spec.Containers...), pod.Spec.InitContainers...)
	for _, c := range containers {
		for name, q := range c.Resources.Requests {
			if isQOSResource(name) && q.Cmp(zero) == 1 {
				add(requests, name, q)
			}
		}
		found := map[corev1.ResourceName]bool{}
		for name, q := range c.Resources.Limits {
			if isQOSResource(name) && q.Cmp(zero) == 1 {
				found[name] = true
				add(limits, name, q)
			}
		}
		if !found[corev1.ResourceCPU] || !found[corev1.ResourceMemory] {
			guaranteed = false
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return corev1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
				break
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func isQOSResource(name corev1.ResourceName) bool {
	return name == corev1.ResourceCPU || name == corev1.ResourceMemory
}
