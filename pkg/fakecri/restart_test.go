package fakecri

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/internal/testutil"
	"github.com/execlab/execlab/pkg/fakecri/shim"
)

// TestRestart stops the service with a running, an exited and a created
// container, and one that exits while the runtime is away, and one whose
// shim is killed then; a new runtime on the same root finds each as it
// is, as containerd finds its tasks through their shims.
func TestRestart(t *testing.T) {
	baseline := runtime.NumGoroutine()
	root := t.TempDir()
	e := startEnv(t, root)
	t.Cleanup(e.stop)
	sb := e.runPod("p")
	running := e.run(sb, "p", "running", "sh", "-c", "sleep 1000 & exec sleep 1000")
	exited := e.run(sb, "p", "exited", "sh", "-c", "exit 4")
	created := e.create(sb, "p", containerConfig("p", "created", "true"))
	// Exits once the file go exists in its working directory.
	away := e.run(sb, "p", "away", "sh", "-c", "while [ ! -e go ]; do sleep 0.01; done; echo late; exit 3")
	shimKilled := e.run(sb, "p", "shim-killed", "sh", "-c", "sleep 1001 & exec sleep 1001")
	e.waitExited(exited)
	pids := waitSession(t, e.pid(running), 2)
	lost := waitSession(t, e.pid(shimKilled), 2)
	if _, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: "registry.k8s.io/pause:3.10"}}); err != nil {
		t.Fatal(err)
	}
	before := map[string]*runtimeapi.ContainerStatus{}
	for _, id := range []string{running, exited, created, away, shimKilled} {
		before[id] = e.status(id)
	}
	awayDir := filepath.Join(root, containersDir, away)
	shimKilledDir := filepath.Join(root, containersDir, shimKilled)
	images, err := e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e.stop()
	testutil.WaitGoroutines(t, baseline)
	for _, pid := range pids {
		if !alive(pid) {
			t.Errorf("process %d of the running container died with the runtime", pid)
		}
	}
	stopped := time.Now().UnixNano()
	if err := os.WriteFile(filepath.Join(awayDir, workDirName, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	killShim(t, shimKilledDir)
	waitGone(t, lost[0]) // Pdeathsig; the background sleep outlives its shim

	e = newEnv(t, root)
	list, err := e.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Containers) != 5 {
		t.Fatalf("listed %d containers after the restart, want 5", len(list.Containers))
	}
	for id, old := range before {
		st := e.status(id)
		if id == away {
			st = e.waitExited(id)
		}
		want := proto.Clone(old).(*runtimeapi.ContainerStatus)
		switch id {
		case away:
			// The exit the shim saw while the runtime was away.
			want.State, want.ExitCode, want.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 3, "Error"
			want.FinishedAt = st.FinishedAt
			if st.FinishedAt < stopped || st.FinishedAt > time.Now().UnixNano() {
				t.Errorf("away: finished at %d, the runtime stopped at %d", st.FinishedAt, stopped)
			}
		case shimKilled:
			// Lost with its shim, as containerd reports a task it cannot
			// find when it recovers.
			want.State, want.ExitCode, want.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 255, "Unknown"
			want.FinishedAt = st.FinishedAt
			if st.FinishedAt < stopped {
				t.Errorf("shim-killed: finished at %d, before the restart", st.FinishedAt)
			}
		}
		if !proto.Equal(st, want) {
			t.Errorf("after the restart\n%v\nwant\n%v", st, want)
		}
	}
	// What the lost container's process started ends with the restart.
	waitGone(t, lost[1])
	// Written while the runtime was away, logged once it is back.
	waitFile(t, before[away].LogPath, func(log string) bool { return strings.HasSuffix(log, " stdout F late\n") })
	if got := e.pid(running); got != pids[0] {
		t.Errorf("the running container's pid is %d after the restart, want %d", got, pids[0])
	}
	if resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: running, Cmd: []string{"echo", "still here"}}); err != nil || string(resp.Stdout) != "still here\n" {
		t.Errorf("ExecSync after the restart: %v, %v", resp, err)
	}
	sbs, err := e.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(sbs.Items) != 1 || sbs.Items[0].Id != sb || sbs.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_READY ||
		sbs.Items[0].Metadata.Name != "p" || sbs.Items[0].Labels["io.kubernetes.pod.name"] != "p" {
		t.Errorf("sandboxes after the restart: %v, %v", sbs, err)
	}
	imagesAfter, err := e.is.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil || !proto.Equal(imagesAfter, images) {
		t.Errorf("images after the restart %v (%v), before %v", imagesAfter, err, images)
	}
	// The container found again stops as any other, and its shim ends.
	if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: running, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(running); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 143 {
		t.Errorf("stopped after the restart: %v, exit code %d; want 143", st.State, st.ExitCode)
	}
	for _, pid := range pids {
		waitGone(t, pid)
	}
	if _, err := os.Stat(filepath.Join(filepath.Join(root, containersDir, running), shimDir, "shim.sock")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stopped container's shim still listens: %v", err)
	}
}

// TestShimKilled: a shim killed while the runtime runs takes its process
// with it (Pdeathsig), and the container exits 137, as containerd records
// a task whose shim died.
func TestShimKilled(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	id := e.run(sb, "p", "c", "sleep", "1004")
	killShim(t, filepath.Join(e.root, containersDir, id))
	if st := e.waitExited(id); st.ExitCode != 137 || st.Reason != "Error" {
		t.Errorf("exit code %d, reason %q; want 137, Error", st.ExitCode, st.Reason)
	}
}

// TestRestartWithoutShim: without a shim the main processes are the
// runtime's children and die with it; a new runtime on the same root
// reports the running container lost, and its sandbox not ready.
func TestRestartWithoutShim(t *testing.T) {
	root := t.TempDir()
	noShim := Config{Root: root, Shim: filepath.Join(t.TempDir(), "none")}
	e := startEnvWith(t, noShim)
	t.Cleanup(e.stop)
	sb := e.runPod("p")
	running := e.run(sb, "p", "running", "sh", "-c", "sleep 1000 & exec sleep 1000")
	pids := waitSession(t, e.pid(running), 2)
	before := e.status(running)
	e.stop()
	for _, pid := range pids {
		waitGone(t, pid)
	}

	e = startEnvWith(t, noShim)
	t.Cleanup(e.stop)
	st := e.status(running)
	want := proto.Clone(before).(*runtimeapi.ContainerStatus)
	want.State, want.ExitCode, want.Reason = runtimeapi.ContainerState_CONTAINER_EXITED, 255, "Unknown"
	want.FinishedAt = st.FinishedAt
	if st.FinishedAt < before.StartedAt {
		t.Errorf("finished at %d, before it started at %d", st.FinishedAt, before.StartedAt)
	}
	if !proto.Equal(st, want) {
		t.Errorf("after the restart\n%v\nwant\n%v", st, want)
	}
	sbs, err := e.rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil || len(sbs.Items) != 1 || sbs.Items[0].State != runtimeapi.PodSandboxState_SANDBOX_NOTREADY {
		t.Errorf("sandboxes after the restart: %v, %v", sbs, err)
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

// killShim kills with SIGKILL the shim serving in a container's
// directory (the parent of the container's process), and waits until it
// is gone.
func killShim(t *testing.T, containerDir string) {
	t.Helper()
	c, err := shim.Connect(filepath.Join(containerDir, shimDir))
	if err != nil {
		t.Fatal(err)
	}
	pid := c.PID
	for _, f := range []*os.File{c.Stdout, c.Stderr} {
		if f != nil {
			f.Close()
		}
	}
	c.Close()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(b), ") ")
	shimPID, _ := strconv.Atoi(strings.Fields(after)[1])
	if shimPID <= 1 {
		t.Fatalf("process %d's parent is %d, not a shim", pid, shimPID)
	}
	unix.Kill(shimPID, unix.SIGKILL)
	waitGone(t, shimPID)
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
	p, err := startProcess(procSpec{argv: []string{"sh", "-c", "sleep 1001 & exec sleep 1001"}, env: []string{"PATH=" + defaultPath}, sessions: procs.Sessions(dir)})
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
	// The runtime's own processes are recorded while they run: a
	// container's by its shim, beside the shim's own.
	sb := e.runPod("p")
	c := e.run(sb, "p", "c", "sleep", "1003")
	if _, err := os.Stat(filepath.Join(root, containersDir, c, shimDir, sessionsDir, strconv.Itoa(e.pid(c)))); err != nil {
		t.Errorf("the running container's session is not recorded: %v", err)
	}
}
