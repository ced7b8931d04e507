package fakecri

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/procs"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc/<pid>/stat's times
// (100 on every Linux architecture Go runs on).
const clockTicks = 100

// cpuSample is a container's CPU time when its stats were last read, from
// which the next read derives a rate.
type cpuSample struct {
	at    int64  // Unix nanoseconds
	usage uint64 // core nanoseconds
}

func (s *Service) ContainerStats(_ context.Context, r *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	c, err := s.rt.getContainer(r.GetContainerId())
	if err != nil {
		return nil, toStatus(err)
	}
	return &runtimeapi.ContainerStatsResponse{Stats: s.rt.containerStats(c)}, nil
}

// ListContainerStats reports the containers that match every field set in
// the filter, as ListContainers filters them.
func (s *Service) ListContainerStats(_ context.Context, r *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	f := r.GetFilter()
	listed := s.rt.listContainers(&runtimeapi.ContainerFilter{Id: f.GetId(), PodSandboxId: f.GetPodSandboxId(), LabelSelector: f.GetLabelSelector()})
	var out []*runtimeapi.ContainerStats
	for _, l := range listed {
		if c, err := s.rt.getContainer(l.Id); err == nil {
			out = append(out, s.rt.containerStats(c))
		}
	}
	return &runtimeapi.ListContainerStatsResponse{Stats: out}, nil
}

// containerStats is what the container's processes use, as /proc counts
// the processes of its main process's and its execs' sessions now: there
// are no cgroups here, where containerd reads the task's
// (internal/cri/server/container_stats_list.go). A container that is not
// running uses nothing. Its writable layer is its directory under Root.
func (rt *Runtime) containerStats(c *container) *runtimeapi.ContainerStats {
	now := time.Now().UnixNano()
	c.mu.Lock()
	sids := map[int]bool{}
	if c.status.state == runtimeapi.ContainerState_CONTAINER_RUNNING && c.status.pid != 0 {
		sids[c.status.pid] = true
	}
	for p := range c.execs {
		sids[p.pid] = true
	}
	c.mu.Unlock()
	var cpu, rss uint64
	for _, pid := range procs.SessionMembers(sids) {
		t, m := procUsage(pid)
		cpu, rss = cpu+t, rss+m
	}
	cpuUsage := &runtimeapi.CpuUsage{Timestamp: now, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: cpu}}
	c.mu.Lock()
	if last := c.lastCPU; last.at != 0 && now > last.at && cpu >= last.usage {
		cpuUsage.UsageNanoCores = &runtimeapi.UInt64Value{Value: uint64(float64(cpu-last.usage) / float64(now-last.at) * 1e9)}
	}
	c.lastCPU = cpuSample{at: now, usage: cpu}
	c.mu.Unlock()
	bytes, inodes := diskUsage(c.dir)
	return &runtimeapi.ContainerStats{
		Attributes: &runtimeapi.ContainerAttributes{
			Id:          c.id,
			Metadata:    c.config.GetMetadata(),
			Labels:      c.config.GetLabels(),
			Annotations: c.config.GetAnnotations(),
		},
		Cpu: cpuUsage,
		Memory: &runtimeapi.MemoryUsage{
			Timestamp:       now,
			WorkingSetBytes: &runtimeapi.UInt64Value{Value: rss},
			RssBytes:        &runtimeapi.UInt64Value{Value: rss},
			UsageBytes:      &runtimeapi.UInt64Value{Value: rss},
		},
		WritableLayer: &runtimeapi.FilesystemUsage{
			Timestamp:  now,
			FsId:       &runtimeapi.FilesystemIdentifier{Mountpoint: rt.root},
			UsedBytes:  &runtimeapi.UInt64Value{Value: bytes},
			InodesUsed: &runtimeapi.UInt64Value{Value: inodes},
		},
	}
}

// procUsage is a process's CPU time, its own and its reaped children's, in
// nanoseconds, and its resident memory in bytes (proc(5): stat).
func procUsage(pid int) (cpuNanos, rssBytes uint64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The fields after the command name, which is in parentheses: state is
	// 0, utime 11, stime 12, cutime 13, cstime 14, rss 21.
	_, after, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(after)
	if len(f) < 22 {
		return 0, 0
	}
	var ticks uint64
	for _, i := range []int{11, 12, 13, 14} {
		n, _ := strconv.ParseUint(f[i], 10, 64)
		ticks += n
	}
	pages, _ := strconv.ParseUint(f[21], 10, 64)
	return ticks * uint64(time.Second/clockTicks), pages * uint64(os.Getpagesize())
}

// diskUsage is the size and the number of the files under dir.
func diskUsage(dir string) (bytes, inodes uint64) {
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a file removed during the walk
		}
		inodes++
		if fi, err := d.Info(); err == nil && d.Type().IsRegular() {
			bytes += uint64(fi.Size())
		}
		return nil
	})
	return bytes, inodes
}
