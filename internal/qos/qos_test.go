package qos

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
)

func TestPodQOSClass(t *testing.T) {
	rl := func(cpu, mem string) corev1.ResourceList {
		l := corev1.ResourceList{}
		if cpu != "" {
			l[corev1.ResourceCPU] = apiresource.MustParse(cpu)
		}
		if mem != "" {
			l[corev1.ResourceMemory] = apiresource.MustParse(mem)
		}
		return l
	}
	for _, c := range []struct {
		name        string
		req, limits corev1.ResourceList
		want        corev1.PodQOSClass
	}{
		{"none", nil, nil, corev1.PodQOSBestEffort},
		{"requests", rl("100m", ""), nil, corev1.PodQOSBurstable},
		{"equal", rl("1", "1Gi"), rl("1", "1Gi"), corev1.PodQOSGuaranteed},
		{"unequal", rl("500m", "1Gi"), rl("1", "1Gi"), corev1.PodQOSBurstable},
		{"cpu limit only", rl("1", ""), rl("1", ""), corev1.PodQOSBurstable},
	} {
		pod := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Resources: corev1.ResourceRequirements{Requests: c.req, Limits: c.limits}}}}}
		if got := ComputePodQOS(pod); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
