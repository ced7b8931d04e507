package fakecri

import (
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestListFilters(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sbA, sbB := e.runPod("a"), e.runPod("b")
	a1 := e.run(sbA, "a", "one", "sleep", "1000")
	a2 := e.create(sbA, "a", containerConfig("a", "two", "true"))
	b1 := e.run(sbB, "b", "one", "true")
	e.waitExited(b1)
	if _, err := e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sbB}); err != nil {
		t.Fatal(err)
	}

	containers := func(f *runtimeapi.ContainerFilter) []string {
		t.Helper()
		resp, err := e.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range resp.Containers {
			ids = append(ids, c.Id)
		}
		return ids
	}
	state := func(s runtimeapi.ContainerState) *runtimeapi.ContainerStateValue {
		return &runtimeapi.ContainerStateValue{State: s}
	}
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.ContainerFilter
		want   []string
	}{
		{"none", nil, []string{a1, a2, b1}},
		{"id", &runtimeapi.ContainerFilter{Id: a2}, []string{a2}},
		{"id prefix", &runtimeapi.ContainerFilter{Id: a2[:12]}, []string{a2}},
		{"unknown id", &runtimeapi.ContainerFilter{Id: "f00"}, nil},
		{"sandbox", &runtimeapi.ContainerFilter{PodSandboxId: sbA}, []string{a1, a2}},
		{"sandbox prefix", &runtimeapi.ContainerFilter{PodSandboxId: sbB[:8]}, []string{b1}},
		{"running", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_RUNNING)}, []string{a1}},
		{"created", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_CREATED)}, []string{a2}},
		{"exited", &runtimeapi.ContainerFilter{State: state(runtimeapi.ContainerState_CONTAINER_EXITED)}, []string{b1}},
		{"labels", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.container.name": "one"}}, []string{a1, b1}},
		{"labels all", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.container.name": "one", "io.kubernetes.pod.name": "b"}}, []string{b1}},
		{"label value", &runtimeapi.ContainerFilter{LabelSelector: map[string]string{"io.kubernetes.container.name": "on"}}, nil},
		{"everything", &runtimeapi.ContainerFilter{Id: a1, PodSandboxId: sbA, State: state(runtimeapi.ContainerState_CONTAINER_RUNNING), LabelSelector: map[string]string{"io.kubernetes.pod.name": "a"}}, []string{a1}},
		{"contradiction", &runtimeapi.ContainerFilter{Id: a1, PodSandboxId: sbB}, nil},
	} {
		if got := containers(tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}

	resp, err := e.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{Id: a1}})
	if err != nil {
		t.Fatal(err)
	}
	c := resp.Containers[0]
	if c.PodSandboxId != sbA || c.Metadata.Name != "one" || c.Image.Image != "busybox" || c.ImageRef != catalogueID("docker.io/library/busybox:latest") ||
		c.State != runtimeapi.ContainerState_CONTAINER_RUNNING || c.CreatedAt == 0 || c.Labels["io.kubernetes.pod.uid"] != "uid-a" ||
		c.Annotations["io.kubernetes.container.restartCount"] != "0" {
		t.Errorf("listed %v", c)
	}

	sandboxes := func(f *runtimeapi.PodSandboxFilter) []string {
		t.Helper()
		resp, err := e.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: f})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range resp.Items {
			ids = append(ids, s.Id)
		}
		return ids
	}
	sbState := func(s runtimeapi.PodSandboxState) *runtimeapi.PodSandboxStateValue {
		return &runtimeapi.PodSandboxStateValue{State: s}
	}
	for _, tc := range []struct {
		name   string
		filter *runtimeapi.PodSandboxFilter
		want   []string
	}{
		{"none", nil, []string{sbA, sbB}},
		{"id", &runtimeapi.PodSandboxFilter{Id: sbB}, []string{sbB}},
		{"id prefix", &runtimeapi.PodSandboxFilter{Id: sbA[:5]}, []string{sbA}},
		{"ready", &runtimeapi.PodSandboxFilter{State: sbState(runtimeapi.PodSandboxState_SANDBOX_READY)}, []string{sbA}},
		{"not ready", &runtimeapi.PodSandboxFilter{State: sbState(runtimeapi.PodSandboxState_SANDBOX_NOTREADY)}, []string{sbB}},
		{"labels", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"io.kubernetes.pod.name": "b"}}, []string{sbB}},
		{"no label", &runtimeapi.PodSandboxFilter{LabelSelector: map[string]string{"nope": ""}}, nil},
	} {
		if got := sandboxes(tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("sandboxes %s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestUnknownIDs checks the answers for IDs that name nothing: NotFound with
// containerd's messages where the CRI says "returns an error", success where
// it says the call is idempotent.
func TestUnknownIDs(t *testing.T) {
	e := newEnv(t, t.TempDir())
	const id = "0123456789abcdef"
	for name, err := range map[string]error{
		"StopContainer":    second(e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10})),
		"RemoveContainer":  second(e.rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id})),
		"StopPodSandbox":   second(e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id})),
		"RemovePodSandbox": second(e.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id})),
		"RemoveImage":      second(e.is.RemoveImage(ctx, &runtimeapi.RemoveImageRequest{Image: &runtimeapi.ImageSpec{Image: "nothing:here"}})),
	} {
		if err != nil {
			t.Errorf("%s of an unknown ID: %v", name, err)
		}
	}
	quoted := `"` + id + `"`
	for _, tc := range []struct {
		rpc string
		err error
		msg string
	}{
		{"ContainerStatus", second(e.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})), "an error occurred when try to find container " + quoted + ": not found"},
		{"StartContainer", second(e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})), "an error occurred when try to find container " + quoted + ": not found"},
		{"PodSandboxStatus", second(e.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})), "an error occurred when try to find sandbox: not found"},
		{"CreateContainer", second(e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: id, Config: containerConfig("p", "c")})), "failed to find sandbox id " + quoted + ": not found"},
		{"ExecSync", second(e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"true"}})), "failed to exec in container: failed to find container " + quoted + " in store: not found"},
		{"Exec", second(e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true})), "failed to find container " + quoted + " in store: not found"},
		{"Attach", second(e.rs.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id, Stdout: true})), "failed to find container " + quoted + " in store: not found"},
		{"PortForward", second(e.rs.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: id, Port: []int32{80}})), "failed to find sandbox " + quoted + ": not found"},
		{"ReopenContainerLog", second(e.rs.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})), "an error occurred when try to find container " + quoted + ": not found"},
	} {
		t.Run(tc.rpc, func(t *testing.T) { wantCode(t, tc.err, codes.NotFound, tc.msg) })
	}

	// An empty ID names nothing either; a prefix of two IDs names no one.
	_, err := e.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{})
	wantCode(t, err, codes.InvalidArgument, `an error occurred when try to find container "": empty ID: invalid argument`)
	_, err = e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{})
	wantCode(t, err, codes.InvalidArgument, `an error occurred when try to find container "": empty ID: invalid argument`)
	seen := map[byte]bool{}
	for i := 0; ; i++ { // of 17 IDs, two share their first hex digit
		id := e.runPod(string(rune('a' + i)))
		if seen[id[0]] {
			_, err := e.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id[:1]})
			wantCode(t, err, codes.InvalidArgument, `an error occurred when try to find sandbox: multiple IDs found with provided prefix "`+id[:1]+`": invalid argument`)
			break
		}
		seen[id[0]] = true
	}
}

func second[T any](_ T, err error) error { return err }
