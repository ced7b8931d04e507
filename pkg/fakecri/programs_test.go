package fakecri

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// busyboxBinary is the busybox the runtime runs the applets with; the
// tests need one (scripts/setup.sh installs Debian's busybox-static).
func busyboxBinary(t *testing.T, e *env) string {
	t.Helper()
	if e.rt.tools.busybox == "" {
		t.Fatal("no busybox on this machine: scripts/setup.sh installs busybox-static")
	}
	return e.rt.tools.busybox
}

// pullRun pulls image, then creates and starts a container of it with cmd
// (none: the image's).
func (e *env) pullRun(sb, pod, name, image string, cmd ...string) string {
	e.t.Helper()
	e.pull(image)
	cfg := containerConfig(pod, name, cmd...)
	cfg.Image.Image = image
	id := e.create(sb, pod, cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) execSync(id string, cmd ...string) (string, int32) {
	e.t.Helper()
	resp, err := e.rs.ExecSync(ctx, &runtimeapi.ExecSyncRequest{ContainerId: id, Cmd: cmd})
	if err != nil {
		e.t.Fatal(err)
	}
	return string(resp.Stdout) + string(resp.Stderr), resp.ExitCode
}

// TestBusyboxImage runs busybox pods as a manifest for a real cluster
// would: the image's command when the pod gives none, busybox's applets for
// the commands, by name, by path and from its shell.
func TestBusyboxImage(t *testing.T) {
	e := newEnv(t, t.TempDir())
	// As /proc shows it: /bin may be a link to /usr/bin.
	busybox, err := filepath.EvalSymlinks(busyboxBinary(t, e))
	if err != nil {
		t.Fatal(err)
	}
	sb := e.runPod("p")

	// No command: the image's sh, which ends at once without stdin.
	if st := e.waitExited(e.pullRun(sb, "p", "default", "busybox")); st.ExitCode != 0 || st.Reason != "Completed" {
		t.Errorf("busybox with no command: exit %d, reason %q; want sh's 0, Completed", st.ExitCode, st.Reason)
	}
	// top without a terminal keeps running, where procps' exits at once.
	top := e.pullRun(sb, "p", "top", "busybox", "top")
	time.Sleep(500 * time.Millisecond)
	if st := e.status(top); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Fatalf("busybox top: %v, exit %d", st.State, st.ExitCode)
	}
	exe, err := os.Readlink("/proc/" + strconv.Itoa(e.pid(top)) + "/exe")
	if err != nil || exe != busybox {
		t.Errorf("top runs %q, %v; want %s", exe, err, busybox)
	}
	for _, tc := range []struct {
		cmd  []string
		want string
	}{
		// The applet by name, by the image's path, and from busybox's shell.
		{[]string{"sh", "-c", "readlink /proc/$$/exe"}, busybox + "\n"},
		{[]string{"/bin/sh", "-c", "readlink /proc/$$/exe"}, busybox + "\n"},
		{[]string{"sh", "-c", "top -b -n 1 >/dev/null && echo ok"}, "ok\n"},
		{[]string{"env", "sh", "-c", "echo $0"}, "sh\n"},
		{[]string{"/usr/bin/env", "true"}, ""},
		// busybox's own messages.
		{[]string{"ls", "/no/such"}, "ls: /no/such: No such file or directory\n"},
		// The host's, where busybox has no such program.
		{[]string{"sh", "-c", "command -v python3 || echo none"}, hostCommand(t, "python3") + "\n"},
	} {
		if got, _ := e.execSync(top, tc.cmd...); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.cmd, got, tc.want)
		}
	}
}

// hostCommand is where the host's shell finds name, "none" when it does not.
func hostCommand(t *testing.T, name string) string {
	t.Helper()
	for _, d := range strings.Split(defaultPath, ":") {
		if executable(d+"/"+name) == nil {
			return d + "/" + name
		}
	}
	return "none"
}

// TestImageConfig checks that a container gets its image's entrypoint,
// command, environment, working directory and stop signal, under the pod's.
func TestImageConfig(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")

	// python: the image's environment; its python3 is the host's.
	py := e.pullRun(sb, "p", "py", "python:3.14", "sleep", "1000")
	if got, code := e.execSync(py, "sh", "-c", `echo "$PYTHON_VERSION|$PATH"`); code != 0 ||
		got != "3.14.6|/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Errorf("python's environment: %q, exit %d", got, code)
	}
	if hostCommand(t, "python3") != "none" {
		if got, code := e.execSync(py, "python", "-c", "print(6*7)"); code != 0 || got != "42\n" {
			t.Errorf("python -c: %q, exit %d", got, code)
		}
	}

	// httpd: its working directory is not on the host, so the container's
	// own; the pod's environment over the image's; its stop signal.
	if _, err := os.Stat("/usr/local/apache2"); err == nil {
		t.Fatal("this host has /usr/local/apache2: the test needs a host without it")
	}
	cfg := containerConfig("p", "web", "sleep", "1000")
	cfg.Image.Image = "httpd"
	cfg.Envs = []*runtimeapi.KeyValue{{Key: "HTTPD_VERSION", Value: []byte("2.4.99")}}
	e.pull(cfg.Image.Image)
	id := e.create(sb, "p", cfg)
	if st := e.status(id); st.StopSignal != runtimeapi.Signal_SIGNAL_SIGWINCH {
		t.Errorf("stop signal %v, want the image's SIGWINCH", st.StopSignal)
	}
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	c, _ := e.rt.getContainer(id)
	if got, _ := e.execSync(id, "sh", "-c", `pwd; echo "$HTTPD_VERSION $HTTPD_PREFIX"`); got != c.dir+"/"+workDirName+"\n2.4.99 /usr/local/apache2\n" {
		t.Errorf("working directory and environment: %q", got)
	}
}

// TestProcessArgs checks containerd's rules for the command line: the pod's
// command replaces the image's entrypoint and command, its args only the
// command.
func TestProcessArgs(t *testing.T) {
	img := ocispec.ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"default"}}
	for _, tc := range []struct {
		command, args []string
		want          []string
	}{
		{nil, nil, []string{"/ep", "default"}},
		{nil, []string{"a"}, []string{"/ep", "a"}},
		{[]string{"c"}, nil, []string{"c"}},
		{[]string{"c"}, []string{"a"}, []string{"c", "a"}},
	} {
		cfg := &runtimeapi.ContainerConfig{Command: tc.command, Args: tc.args}
		if got := processArgs(cfg, img); !slices.Equal(got, tc.want) {
			t.Errorf("command %q, args %q: %q, want %q", tc.command, tc.args, got, tc.want)
		}
	}
	if got := processArgs(&runtimeapi.ContainerConfig{}, ocispec.ImageConfig{Entrypoint: []string{""}, Cmd: []string{"x"}}); !slices.Equal(got, []string{"x"}) {
		t.Errorf("an empty entrypoint: %q", got)
	}
}

// TestImagePrograms runs imagebin's programs as images run them: nginx by
// the image's command, agnhost by its entrypoint and the pod's args.
func TestImagePrograms(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("nginx serves on port 80: needs root")
	}
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	web := e.pullRun(sb, "p", "web", "registry.k8s.io/e2e-test-images/nginx:1.14-2")
	var body []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://127.0.0.1:80/")
		if err == nil {
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.Header.Get("Server") != "nginx/1.14.2" {
				t.Errorf("Server %q", resp.Header.Get("Server"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	if !strings.Contains(string(body), "Welcome to nginx!") {
		t.Errorf("nginx served %q", body)
	}
	if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: web, Timeout: 10}); err != nil {
		t.Fatal(err)
	}
	if st := e.status(web); st.ExitCode != 0 {
		t.Errorf("nginx stopped with %d, want 0 on its image's SIGTERM", st.ExitCode)
	}

	cfg := containerConfig("p", "ep")
	cfg.Image.Image = "registry.k8s.io/e2e-test-images/agnhost:2.56"
	cfg.Args = []string{"entrypoint-tester", "x"}
	e.pull(cfg.Image.Image)
	id := e.create(sb, "p", cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	if st := e.waitExited(id); st.ExitCode != 0 {
		t.Errorf("entrypoint-tester: exit %d", st.ExitCode)
	}
	log := waitFile(t, e.status(id).LogPath, func(s string) bool { return strings.Contains(s, "]") })
	if !strings.HasSuffix(log, " stdout F [/agnhost entrypoint-tester x]\n") {
		t.Errorf("entrypoint-tester logged %q", log)
	}
}
