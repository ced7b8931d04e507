package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestUpDown runs scripts/up.sh twice and scripts/down.sh as a person would,
// on ports and a state directory of its own.
func TestUpDown(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	env := append(os.Environ(),
		"EXECLAB_STATE="+state,
		"EXECLAB_APISERVER_PORT="+strconv.Itoa(freePort(t)),
		"EXECLAB_KUBELET_PORT="+strconv.Itoa(freePort(t)),
	)
	script := func(name string) (string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join("..", "..", "scripts", name))
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), stderr.String()
	}
	kubeconfig, _ := script("up.sh")
	if kubeconfig != filepath.Join(state, "kubeconfig") {
		t.Fatalf("up.sh printed %q, want the kubeconfig path", kubeconfig)
	}
	pids := readPIDs(t, state)
	t.Cleanup(func() {
		for _, pid := range pids {
			if p, err := os.FindProcess(pid); err == nil && processAlive(pid) {
				p.Kill()
			}
		}
	})

	mini := filepath.Join("..", "..", "bin", "mini-kubectl")
	out, err := exec.Command(mini, "--kubeconfig", kubeconfig, "exec", "demo", "--", "echo", "up").CombinedOutput()
	if err != nil || string(out) != "up\n" {
		t.Fatalf("exec after up.sh: %v, %q", err, out)
	}

	again, stderr := script("up.sh")
	if again != kubeconfig || !strings.Contains(stderr, "already running") {
		t.Errorf("second up.sh printed %q, stderr %q", again, stderr)
	}
	if now := readPIDs(t, state); !equalPIDs(now, pids) {
		t.Errorf("second up.sh changed the running components: %v, then %v", pids, now)
	}

	script("down.sh")
	for name, pid := range pids {
		if processAlive(pid) {
			t.Errorf("%s (pid %d) still running after down.sh", name, pid)
		}
	}
	if left := processesUsing(state); len(left) != 0 {
		t.Errorf("processes still using %s after down.sh: %v", state, left)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("down.sh removed the kubeconfig: %v", err)
	}
}

func readPIDs(t *testing.T, state string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, name := range []string{"apiserver", "cri", "kubelet"} {
		b, err := os.ReadFile(filepath.Join(state, "pids", name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids[name] = pid
	}
	return pids
}

func equalPIDs(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	// A zombie still has /proc/PID until reaped; it runs nothing.
	return err == nil && !strings.Contains(string(stat), ") Z ")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
