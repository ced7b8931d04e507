package fakecri

import (
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// TestContainerStats checks that stats count the container's processes:
// a busy one uses CPU and memory, a created one nothing, and the filter
// selects as ListContainers does.
func TestContainerStats(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	busyCfg := containerConfig("p", "busy", "sh", "-c", "while :; do :; done")
	busyCfg.Labels["app"] = "busy"
	busy := e.create(sb, "p", busyCfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: busy}); err != nil {
		t.Fatal(err)
	}
	idle := e.create(sb, "p", containerConfig("p", "idle", "sleep", "1000"))
	time.Sleep(300 * time.Millisecond)

	stats := func(id string) *runtimeapi.ContainerStats {
		t.Helper()
		resp, err := e.rs.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Stats
	}
	first := stats(busy)
	time.Sleep(300 * time.Millisecond)
	st := stats(busy)
	if st.Attributes.Id != busy || st.Attributes.Metadata.Name != "busy" || st.Cpu.Timestamp == 0 || st.Memory.Timestamp == 0 ||
		st.Cpu.UsageCoreNanoSeconds.Value <= first.Cpu.UsageCoreNanoSeconds.Value || st.Cpu.UsageNanoCores.GetValue() == 0 ||
		st.Memory.WorkingSetBytes.Value == 0 || st.WritableLayer.FsId.Mountpoint != e.root {
		t.Errorf("a busy container: %v, then %v", first, st)
	}
	if st := stats(idle); st.Cpu.UsageCoreNanoSeconds.Value != 0 || st.Memory.WorkingSetBytes.Value != 0 {
		t.Errorf("a created container uses %v", st)
	}
	for _, tc := range []struct {
		filter *runtimeapi.ContainerStatsFilter
		want   []string
	}{
		{nil, []string{busy, idle}},
		{&runtimeapi.ContainerStatsFilter{Id: idle[:8]}, []string{idle}},
		{&runtimeapi.ContainerStatsFilter{LabelSelector: map[string]string{"app": "busy"}}, []string{busy}},
		{&runtimeapi.ContainerStatsFilter{PodSandboxId: "nosuch"}, nil},
	} {
		resp, err := e.rs.ListContainerStats(ctx, &runtimeapi.ListContainerStatsRequest{Filter: tc.filter})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range resp.Stats {
			got = append(got, s.Attributes.Id)
		}
		if len(got) != len(tc.want) || (len(got) > 0 && got[0] != tc.want[0]) {
			t.Errorf("filter %v: %q, want %q", tc.filter, got, tc.want)
		}
	}
}
