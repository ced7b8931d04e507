package fakecri

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

func TestStopContainer(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	stop := func(id string, timeout int64) *runtimeapi.ContainerStatus {
		t.Helper()
		if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: timeout}); err != nil {
			t.Fatal(err)
		}
		st := e.status(id)
		if st.State != runtimeapi.ContainerState_CONTAINER_EXITED {
			t.Fatalf("after StopContainer the container is %v", st.State)
		}
		return st
	}

	t.Run("SIGTERM", func(t *testing.T) {
		id := e.run(sb, "p", "term", "sleep", "1000")
		if st := stop(id, 30); st.ExitCode != 143 || st.Reason != "Error" {
			t.Errorf("exit code %d, reason %q; want 143 (SIGTERM), Error", st.ExitCode, st.Reason)
		}
		stop(id, 30) // idempotent
	})
	t.Run("handled SIGTERM", func(t *testing.T) {
		id := e.run(sb, "p", "trap", "sh", "-c", "trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done")
		waitFile(t, e.logPath("p", "trap"), func(s string) bool { return len(s) > 0 })
		if st := stop(id, 30); st.ExitCode != 0 || st.Reason != "Completed" {
			t.Errorf("exit code %d, reason %q; want 0, Completed", st.ExitCode, st.Reason)
		}
	})
	t.Run("SIGKILL after the timeout", func(t *testing.T) {
		id := e.run(sb, "p", "ignore", "sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.01; done")
		waitFile(t, e.logPath("p", "ignore"), func(s string) bool { return len(s) > 0 })
		start := time.Now()
		if st := stop(id, 1); st.ExitCode != 137 {
			t.Errorf("exit code %d, want 137 (SIGKILL)", st.ExitCode)
		}
		if d := time.Since(start); d < time.Second {
			t.Errorf("killed after %v, before the timeout", d)
		}
	})
	t.Run("no timeout kills", func(t *testing.T) {
		id := e.run(sb, "p", "kill", "sh", "-c", "trap '' TERM; sleep 1000")
		if st := stop(id, 0); st.ExitCode != 137 {
			t.Errorf("exit code %d, want 137", st.ExitCode)
		}
	})
	t.Run("stop signal", func(t *testing.T) {
		cfg := containerConfig("p", "usr1", "sleep", "1000")
		cfg.StopSignal = runtimeapi.Signal_SIGNAL_SIGUSR1
		id := e.create(sb, "p", cfg)
		if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		if st := stop(id, 30); st.ExitCode != 128+10 || st.StopSignal != runtimeapi.Signal_SIGNAL_SIGUSR1 {
			t.Errorf("exit code %d, stop signal %v; want 138 (SIGUSR1)", st.ExitCode, st.StopSignal)
		}
	})
	t.Run("execs and children die too", func(t *testing.T) {
		id := e.run(sb, "p", "family", "sh", "-c", "sleep 1000 & echo $!; wait")
		child := atoi(t, []byte(logContent(t, waitFile(t, e.logPath("p", "family"), func(s string) bool { return len(s) > 0 }))))
		resp, err := e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true})
		if err != nil || resp.Url != "http://127.0.0.1:1/exec/"+id {
			t.Fatalf("Exec: %v, %v", resp, err)
		}
		execDone := make(chan []byte)
		// The exec says it runs in a file as well as on stdout: a stop that
		// came before its echo would leave nothing to read.
		running := filepath.Join(t.TempDir(), "exec-running")
		go func() {
			resp, _ := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id[:6], Cmd: []string{"sh", "-c", "echo $$; echo > " + running + "; exec sleep 1000"}})
			execDone <- resp.GetStdout()
		}()
		waitExecs(t, e, id, 1)
		waitFile(t, running, func(s string) bool { return s != "" })
		main := e.pid(id)
		stop(id, 30)
		for _, pid := range []int{main, child, atoi(t, <-execDone)} {
			waitGone(t, pid)
		}
		_, err = e.rs.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true})
		wantCode(t, err, codes.Unknown, "container is in CONTAINER_EXITED state")
	})
	t.Run("a container that runs nothing", func(t *testing.T) {
		// No command, and a generic image, which has none either.
		if _, err := e.is.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: genericImage}}); err != nil {
			t.Fatal(err)
		}
		idle := func(name string) string {
			cfg := containerConfig("p", name)
			cfg.Image.Image = genericImage
			id := e.create(sb, "p", cfg)
			if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
				t.Fatal(err)
			}
			return id
		}
		id := idle("idle")
		if st := e.status(id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Fatalf("state %v", st.State)
		}
		resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: []string{"echo", "in"}})
		if err != nil || string(resp.Stdout) != "in\n" {
			t.Errorf("exec into it: %v, %v", resp, err)
		}
		if st := stop(id, 30); st.ExitCode != 0 || st.Reason != "Completed" {
			t.Errorf("exit code %d, reason %q; want 0 like pause on SIGTERM", st.ExitCode, st.Reason)
		}
		id = idle("idle-kill")
		if st := stop(id, 0); st.ExitCode != 137 {
			t.Errorf("exit code %d, want 137", st.ExitCode)
		}
	})
	t.Run("remove kills", func(t *testing.T) {
		id := e.run(sb, "p", "removed", "sleep", "1000")
		pid := e.pid(id)
		for range 2 {
			if _, err := e.rs.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: id}); err != nil {
				t.Fatal(err)
			}
		}
		waitGone(t, pid)
	})
}

func TestStartErrors(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	id := e.create(sb, "p", containerConfig("p", "missing", "nosuchbinary", "arg"))
	_, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	msg := `failed to start container "` + id + `": exec: "nosuchbinary": executable file not found in $PATH`
	wantCode(t, err, codes.Unknown, msg)
	st := e.status(id)
	if st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 128 || st.Reason != "StartError" || st.Message != msg ||
		st.StartedAt != 0 || st.FinishedAt == 0 {
		t.Errorf("status after a failed start: %v", st)
	}

	// A log that cannot be created is a start error too.
	cfg := containerConfig("p", "nolog", "true")
	cfg.LogPath = "nolog/0.log"
	if err := os.WriteFile(filepath.Join(e.sandboxConfig("p").LogDirectory, "nolog"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	id = e.create(sb, "p", cfg)
	_, err = e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id})
	wantCodeRE(t, err, codes.Unknown, `^failed to create container loggers: create log directory: mkdir .*/nolog: not a directory$`)
	if st := e.status(id); st.Reason != "StartError" || st.ExitCode != 128 {
		t.Errorf("status after a failed log: %v", st)
	}

	// Config.WorkingDir is used when it exists, else the container's own.
	cfg = containerConfig("p", "wd", "pwd")
	cfg.WorkingDir = t.TempDir()
	id = e.create(sb, "p", cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	e.waitExited(id)
	if got := logContent(t, readFile(t, e.logPath("p", "wd"))); got != cfg.WorkingDir+"\n" {
		t.Errorf("pwd printed %q, want %q", got, cfg.WorkingDir)
	}
	cfg = containerConfig("p", "wd2", "pwd")
	cfg.WorkingDir = "/no/such/dir"
	id = e.create(sb, "p", cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	e.waitExited(id)
	if got, want := logContent(t, readFile(t, e.logPath("p", "wd2"))), filepath.Join(e.root, containersDir, id, workDirName)+"\n"; got != want {
		t.Errorf("pwd printed %q, want %q", got, want)
	}

	// The same metadata twice is refused; another attempt is another name.
	cfg = containerConfig("p", "twice", "true")
	e.create(sb, "p", cfg)
	_, err = e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: cfg, SandboxConfig: e.sandboxConfig("p")})
	wantCodeRE(t, err, codes.AlreadyExists, `^failed to reserve container name "twice_p_default_uid-p_0": `)
	cfg.Metadata.Attempt = 1
	e.create(sb, "p", cfg)

	_, err = e.rs.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb, Config: &runtimeapi.ContainerConfig{}})
	wantCode(t, err, codes.InvalidArgument, "container config must include metadata: invalid argument")
	_, err = e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: &runtimeapi.PodSandboxConfig{}})
	wantCode(t, err, codes.InvalidArgument, "sandbox config must include metadata: invalid argument")
	_, err = e.rs.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: e.sandboxConfig("q"), RuntimeHandler: "kata"})
	wantCode(t, err, codes.NotFound, `no runtime for "kata" is configured: not found`)
}

// waitExecs waits until container id has n execs running.
func waitExecs(t *testing.T, e *env, id string, n int) {
	t.Helper()
	c, _ := e.rt.getContainer(id)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.mu.Lock()
		got := len(c.execs)
		c.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("container never had %d execs", n)
}

func (e *env) logPath(pod, container string) string {
	return filepath.Join(e.sandboxConfig(pod).LogDirectory, container, "0.log")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
