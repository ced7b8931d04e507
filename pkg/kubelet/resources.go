package kubelet

import (
	"github.com/execlab/execlab/internal/qos"
	v1 "k8s.io/api/core/v1"
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
	switch qos.GetPodQOS(pod) {
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
