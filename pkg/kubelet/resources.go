package kubelet

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Constants of upstream pkg/kubelet/cm (helpers_linux.go) and pkg/kubelet/qos.
const (
	minShares      = 2
	maxShares      = 262144
	sharesPerCPU   = 1024
	milliCPUToCPU  = 1000
	quotaPeriod    = 100000
	minQuotaPeriod = 1000

	guaranteedOOMScoreAdj = -997
	besteffortOOMScoreAdj = 1000
)

// podQOS classifies a pod as upstream v1qos.GetPodQOS does: no requests or
// limits at all is BestEffort; cpu and memory limits on every container,
// equal to the requests, is Guaranteed; anything else is Burstable.
func podQOS(pod *v1.Pod) v1.PodQOSClass {
	if pod.Status.QOSClass != "" {
		return pod.Status.QOSClass
	}
	requests := v1.ResourceList{}
	limits := v1.ResourceList{}
	guaranteed := true
	for _, c := range append(append([]v1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, name := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
			req, hasReq := c.Resources.Requests[name]
			lim, hasLim := c.Resources.Limits[name]
			// The apiserver defaults a missing request to the limit.
			if !hasReq && hasLim {
				req, hasReq = lim, true
			}
			if hasReq && !req.IsZero() {
				addQuantity(requests, name, req)
			}
			if hasLim && !lim.IsZero() {
				addQuantity(limits, name, lim)
			} else {
				guaranteed = false
			}
		}
	}
	if len(requests) == 0 && len(limits) == 0 {
		return v1.PodQOSBestEffort
	}
	if guaranteed {
		for name, req := range requests {
			if lim, ok := limits[name]; !ok || lim.Cmp(req) != 0 {
				guaranteed = false
			}
		}
	}
	if guaranteed && len(requests) == len(limits) {
		return v1.PodQOSGuaranteed
	}
	return v1.PodQOSBurstable
}

func addQuantity(list v1.ResourceList, name v1.ResourceName, q resource.Quantity) {
	sum := list[name]
	sum.Add(q)
	list[name] = sum
}

// containerResources mirrors generateLinuxContainerResources: CPU shares
// from the request, CFS quota from the limit, the memory limit and the OOM
// score adjustment of the pod's QoS class.
func containerResources(pod *v1.Pod, c *v1.Container, memoryCapacity int64) *runtimeapi.LinuxContainerResources {
	cpuRequest, hasCPURequest := c.Resources.Requests[v1.ResourceCPU]
	cpuLimit, hasCPULimit := c.Resources.Limits[v1.ResourceCPU]
	if !hasCPURequest && hasCPULimit {
		cpuRequest = cpuLimit
	}
	r := &runtimeapi.LinuxContainerResources{
		CpuShares:   milliCPUToShares(cpuRequest.MilliValue()),
		OomScoreAdj: oomScoreAdjust(pod, c, memoryCapacity),
	}
	if hasCPULimit {
		r.CpuPeriod = quotaPeriod
		r.CpuQuota = milliCPUToQuota(cpuLimit.MilliValue())
	}
	if mem, ok := c.Resources.Limits[v1.ResourceMemory]; ok {
		r.MemoryLimitInBytes = mem.Value()
	}
	return r
}

func milliCPUToShares(milliCPU int64) int64 {
	if milliCPU == 0 {
		return minShares
	}
	shares := milliCPU * sharesPerCPU / milliCPUToCPU
	return min(max(shares, minShares), maxShares)
}

func milliCPUToQuota(milliCPU int64) int64 {
	if milliCPU == 0 {
		return 0
	}
	return max(milliCPU*quotaPeriod/milliCPUToCPU, minQuotaPeriod)
}

// oomScoreAdjust mirrors pkg/kubelet/qos GetContainerOOMScoreAdjust.
func oomScoreAdjust(pod *v1.Pod, c *v1.Container, memoryCapacity int64) int64 {
	switch podQOS(pod) {
	case v1.PodQOSGuaranteed:
		return guaranteedOOMScoreAdj
	case v1.PodQOSBestEffort:
		return besteffortOOMScoreAdj
	}
	if memoryCapacity <= 0 {
		return besteffortOOMScoreAdj - 1
	}
	adj := 1000 - 1000*c.Resources.Requests.Memory().Value()/memoryCapacity
	if adj < 1000+guaranteedOOMScoreAdj {
		return 1000 + guaranteedOOMScoreAdj
	}
	if adj == besteffortOOMScoreAdj {
		return adj - 1
	}
	return adj
}
