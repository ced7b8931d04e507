package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The suite runs against one CRI runtime at a time, behind the shared and
// passthrough stacks and every stack a test starts: the built-in fake
// (fake-cri, one per node, started by pkg/stack) or a containerd that is
// already running. EXECLAB_E2E_RUNTIME=containerd selects containerd and
// EXECLAB_E2E_CRI_ENDPOINT names its socket, as `scripts/containerd.sh up`
// prints it; `make test-containerd` sets both.
const (
	fakeRuntime       = "fake"
	containerdRuntime = "containerd"
)

var (
	runtimeName = envOr("EXECLAB_E2E_RUNTIME", fakeRuntime)
	// criEndpoint is the external runtime's socket; empty for the fake,
	// whose sockets pkg/stack creates per node.
	criEndpoint string
)

// checkRuntime validates the runtime selection before any stack starts.
func checkRuntime() error {
	switch runtimeName {
	case fakeRuntime:
		return nil
	case containerdRuntime:
		criEndpoint = os.Getenv("EXECLAB_E2E_CRI_ENDPOINT")
		if criEndpoint == "" {
			return errors.New("EXECLAB_E2E_RUNTIME=containerd needs EXECLAB_E2E_CRI_ENDPOINT, the unix:// socket `scripts/containerd.sh up` prints")
		}
		return nil
	}
	return fmt.Errorf("EXECLAB_E2E_RUNTIME=%q: want %q or %q", runtimeName, fakeRuntime, containerdRuntime)
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// skipOn skips a test that cannot apply to runtime, saying why.
func skipOn(t *testing.T, runtime, why string) {
	t.Helper()
	if runtimeName == runtime {
		t.Skipf("not on the %s runtime: %s", runtime, why)
	}
}

// outcome is what a command run through a client leaves: its output and
// exit code.
type outcome struct {
	stdout, stderr string
	code           int
}

// onHost is what args give when run right here: the fake runtime runs a
// container's commands on the host, in the host's file system.
func onHost(args ...string) outcome {
	cmd := exec.Command(args[0], args[1:]...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	o := outcome{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		o.code = exitErr.ExitCode()
	} else if err != nil {
		o.code = -1
	}
	return o
}

// echoContainer is a container running test/e2e/echoserver on port: the
// fake runs the host's binary by its path, containerd's busybox image
// carries a copy (scripts/containerd.sh puts it there).
func echoContainer(port int) corev1.Container {
	listen := []string{"--listen", fmt.Sprintf("127.0.0.1:%d", port)}
	if runtimeName == containerdRuntime {
		return corev1.Container{Name: "echo", Image: "busybox", Command: append([]string{"/usr/local/bin/echoserver"}, listen...)}
	}
	return corev1.Container{Name: "echo", Image: "echoserver", Command: append([]string{filepath.Join(binDir, "echoserver")}, listen...)}
}
