package fakecri

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestVersionAndStatus(t *testing.T) {
	e := newEnv(t, t.TempDir())
	v, err := e.rs.Version(ctx, &runtimeapi.VersionRequest{Version: "0.1.0"})
	if err != nil {
		t.Fatal(err)
	}
	want := &runtimeapi.VersionResponse{Version: "0.1.0", RuntimeName: "fake-cri", RuntimeVersion: "test", RuntimeApiVersion: "v1"}
	if !proto.Equal(v, want) {
		t.Errorf("Version = %v, want %v", v, want)
	}
	st, err := e.rs.Status(ctx, &runtimeapi.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range st.Status.Conditions {
		if !c.Status {
			t.Errorf("condition %s is false", c.Type)
		}
	}
	if len(st.Status.Conditions) != 2 || st.Status.Conditions[0].Type != "RuntimeReady" || st.Status.Conditions[1].Type != "NetworkReady" {
		t.Errorf("conditions %v", st.Status.Conditions)
	}
	rc, err := e.rs.RuntimeConfig(ctx, &runtimeapi.RuntimeConfigRequest{})
	if err != nil || rc.Linux.CgroupDriver != runtimeapi.CgroupDriver_CGROUPFS {
		t.Errorf("RuntimeConfig: %v, %v", rc, err)
	}
	_, err = e.rs.CheckpointContainer(ctx, &runtimeapi.CheckpointContainerRequest{})
	wantCode(t, err, codes.Unimplemented, "method CheckpointContainer not implemented")
}

// TestContainerLifecycle runs a container to its end, as a kubelet would,
// and checks every field of its status and its log, byte for byte.
func TestContainerLifecycle(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("web")
	cfg := containerConfig("web", "main", "sh", "-c", `echo "out $GREETING"; echo err >&2; printf 'no newline'; exit 3`)
	cfg.Envs = []*runtimeapi.KeyValue{{Key: "GREETING", Value: []byte("hello")}}
	cfg.Mounts = []*runtimeapi.Mount{{ContainerPath: "/data", HostPath: "/tmp/data"}}
	id := e.create(sb, "web", cfg)
	if len(id) != 64 || strings.Trim(id, "0123456789abcdef") != "" {
		t.Errorf("container ID %q is not 64 hex characters", id)
	}
	st := e.status(id)
	if st.State != runtimeapi.ContainerState_CONTAINER_CREATED || st.StartedAt != 0 || st.CreatedAt == 0 {
		t.Errorf("created container: %v", st)
	}
	before := time.Now().UnixNano()
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	st = e.waitExited(id)
	logPath := filepath.Join(e.sandboxConfig("web").LogDirectory, "main", "0.log")
	imageID := catalogueID("docker.io/library/busybox:latest")
	want := &runtimeapi.ContainerStatus{
		Id:          id,
		Metadata:    cfg.Metadata,
		State:       runtimeapi.ContainerState_CONTAINER_EXITED,
		CreatedAt:   st.CreatedAt,
		StartedAt:   st.StartedAt,
		FinishedAt:  st.FinishedAt,
		ExitCode:    3,
		Image:       &runtimeapi.ImageSpec{Image: "docker.io/library/busybox:latest"},
		ImageRef:    imageID,
		ImageId:     imageID,
		Reason:      "Error",
		Labels:      cfg.Labels,
		Annotations: cfg.Annotations,
		Mounts:      cfg.Mounts,
		LogPath:     logPath,
		User:        processUser(),
		StopSignal:  runtimeapi.Signal_SIGNAL_SIGTERM,
	}
	if !proto.Equal(st, want) {
		t.Errorf("status\n%v\nwant\n%v", st, want)
	}
	if !(st.CreatedAt < before && before < st.StartedAt && st.StartedAt < st.FinishedAt) {
		t.Errorf("created %d, start asked %d, started %d, finished %d", st.CreatedAt, before, st.StartedAt, st.FinishedAt)
	}
	// stdout and stderr may interleave in either order; each stream keeps its own.
	lines := strings.Split(strings.TrimSuffix(waitFile(t, logPath, func(string) bool { return true }), "\n"), "\n")
	ts := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z `)
	var out, errs []string
	for _, l := range lines {
		if !ts.MatchString(l) {
			t.Errorf("log line %q has no timestamp", l)
			continue
		}
		rest := ts.ReplaceAllString(l, "")
		if strings.HasPrefix(rest, "stderr ") {
			errs = append(errs, rest)
		} else {
			out = append(out, rest)
		}
	}
	if want := []string{"stdout F out hello", "stdout P no newline"}; !slices.Equal(out, want) {
		t.Errorf("stdout records %q, want %q", out, want)
	}
	if want := []string{"stderr F err"}; !slices.Equal(errs, want) {
		t.Errorf("stderr records %q, want %q", errs, want)
	}

	_, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	wantCode(t, err, codes.Unknown, "container is in CONTAINER_EXITED state")
	if _, err := e.rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(e.root, containersDir, id)); !os.IsNotExist(err) {
		t.Errorf("container directory left after remove: %v", err)
	}
	if _, err := os.Stat(logPath); err != nil {
		t.Errorf("the log belongs to the kubelet and stays: %v", err)
	}
}

func TestSandboxLifecycle(t *testing.T) {
	e := newEnv(t, t.TempDir())
	cfg := e.sandboxConfig("db")
	resp, err := e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	sb := resp.PodSandboxId
	if fi, err := os.Stat(cfg.LogDirectory); err != nil || !fi.IsDir() {
		t.Errorf("log directory not created: %v", err)
	}
	st, err := e.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb})
	if err != nil {
		t.Fatal(err)
	}
	want := &runtimeapi.PodSandboxStatus{
		Id:          sb,
		Metadata:    cfg.Metadata,
		State:       runtimeapi.PodSandboxState_SANDBOX_READY,
		CreatedAt:   st.Status.CreatedAt,
		Network:     &runtimeapi.PodSandboxNetworkStatus{},
		Linux:       &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: cfg.Linux.SecurityContext.NamespaceOptions}},
		Labels:      cfg.Labels,
		Annotations: cfg.Annotations,
	}
	if !proto.Equal(st.Status, want) || st.Status.CreatedAt == 0 {
		t.Errorf("status\n%v\nwant\n%v", st.Status, want)
	}
	_, err = e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	wantCodeRE(t, err, codes.AlreadyExists, `^failed to reserve sandbox name "db_default_uid-db_0": failed to reserve name "db_default_uid-db_0" for id "[0-9a-f]{64}": name is reserved for "`+sb+`": already exists$`)

	// Stopping kills the containers at once and leaves the sandbox NOTREADY.
	id := e.run(sb, "db", "c", "sleep", "1000")
	pid := e.pid(id)
	for range 2 { // idempotent
		if _, err := e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb}); err != nil {
			t.Fatal(err)
		}
	}
	if cs := e.status(id); cs.State != runtimeapi.ContainerState_CONTAINER_EXITED || cs.ExitCode != 137 || cs.Reason != "Error" {
		t.Errorf("container after StopPodSandbox: %v", cs)
	}
	waitGone(t, pid)
	st, _ = e.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb})
	if st.Status.State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("state after stop %v", st.Status.State)
	}
	_, err = e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: containerConfig("db", "late", "true")})
	wantCode(t, err, codes.Unknown, `sandbox "`+sb+`" is not ready`)

	// Removing removes its containers; then the sandbox is gone, and
	// removing or stopping it again is no error.
	for range 2 {
		if _, err := e.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Fatal(err)
	}
	_, err = e.rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: id})
	wantCode(t, err, codes.NotFound, `an error occurred when try to find container "`+id+`": not found`)
	_, err = e.rs.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sb})
	wantCode(t, err, codes.NotFound, "an error occurred when try to find sandbox: not found")
	if entries, _ := os.ReadDir(filepath.Join(e.root, sandboxesDir)); len(entries) != 0 {
		t.Errorf("sandbox directories left: %v", entries)
	}
	// The name is free again.
	if _, err := e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg}); err != nil {
		t.Error(err)
	}
}
