package fakecri

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// TestRestart stops the service with a running, an exited and a created
// container, starts a new one on the same root, and checks what it lists.
func TestRestart(t *testing.T) {
	baseline := runtime.NumGoroutine()
	root := t.TempDir()
	e := startEnv(t, root)
	t.Cleanup(e.stop)
	sb := e.runPod("p")
	running := e.run(sb, "p", "running", "sh", "-c", "sleep 1000 & exec sleep 1000")
	exited := e.run(sb, "p", "exited", "sh", "-c", "exit 4")
	created := e.create(sb, "p", containerConfig("p", "created", "true"))
	e.waitExited(exited)
	pids := waitSession(t, e.pid(running), 2)
	if _, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/pause:3.10"}}); err != nil {
		t.Fatal(err)
	}
	before := map[string]*runtimeapi.ContainerStatus{}
	for _, id := range []string{running, exited, created} {
		before[id] = e.status(id)
	}
	images, err := e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e.stop()
	// Every process of the container is gone with the runtime.
	for _, pid := range pids {
		waitGone(t, pid)
	}
	testutil.WaitGoroutines(t, baseline)

	e = newEnv(t, root)
	list, err := e.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Containers) != 3 {
		t.Fatalf("listed %d containers after the restart, want 3", len(list.Containers))
	}
	for id, old := range before {
		st := e.status(id)
		want := proto.Clone(old).(*runtimeapi.ContainerStatus)
		if id == running {
			// Lost with its process, as containerd reports a task it cannot
			// find when it recovers.
			want.State, want.ExitCode, want.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 255, "Unknown"
			want.FinishedAt = st.FinishedAt
			if st.FinishedAt < old.StartedAt {
				t.Errorf("finished at %d, before it started at %d", st.FinishedAt, old.StartedAt)
			}
		}
		if !proto.Equal(st, want) {
			t.Errorf("after the restart\n%v\nwant\n%v", st, want)
		}
	}
	sbs, err := e.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(sbs.Items) != 1 || sbs.Items[0].Id != sb || sbs.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY ||
		sbs.Items[0].Metadata.Name != "p" || sbs.Items[0].Labels["io.kubernetes.pod.name"] != "p" {
		t.Errorf("sandboxes after the restart: %v, %v", sbs, err)
	}
	imagesAfter, err := e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil || !proto.Equal(imagesAfter, images) {
		t.Errorf("images after the restart %v (%v), before %v", imagesAfter, err, images)
	}
	// Names stay reserved, and the kubelet cleans up as usual.
	_, err = e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.sandboxConfig("p")})
	if err == nil {
		t.Error("the restored sandbox's name was free")
	}
	if _, err := e.rs.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb}); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{}); len(list.Containers) != 0 {
		t.Errorf("containers left: %v", list.Containers)
	}
}

// TestRestartEndsLeftovers: what the session of a killed fake-cri's
// process started outlives the leader's Pdeathsig; the next fake-cri on
// the same root ends it, and a recorded session whose leader's PID now
// runs another process is left alone.
func TestRestartEndsLeftovers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, sessionsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := startProcess(procSpec{argv: []string{"sh", "-c", "sleep 1001 & exec sleep 1001"}, env: []string{"PATH=" + defaultPath}, sessions: dir})
	if err != nil {
		t.Fatal(err)
	}
	pids := waitSession(t, p.pid, 2)
	// As Pdeathsig does when fake-cri dies: the leader alone, its record left.
	unix.Kill(p.pid, unix.SIGKILL)
	p.cmd.Wait()
	// A stranger: a process of ours recorded with another start time.
	stranger := exec.Command("sleep", "1002")
	stranger.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := stranger.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stranger.Process.Kill(); stranger.Wait() }()
	if err := os.WriteFile(filepath.Join(dir, strconv.Itoa(stranger.Process.Pid)), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	e := newEnv(t, root)
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if !alive(stranger.Process.Pid) {
		t.Error("the stranger was killed")
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("sessions recorded after the restart: %v, %v", entries, err)
	}
	// The runtime's own processes are recorded while they run.
	sb := e.runPod("p")
	c := e.run(sb, "p", "c", "sleep", "1003")
	if _, err := os.Stat(filepath.Join(dir, strconv.Itoa(e.pid(c)))); err != nil {
		t.Errorf("the running container's session is not recorded: %v", err)
	}
}
