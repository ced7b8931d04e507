package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// The suite runs against one CRI runtime at a time, behind the shared and
// passthrough stacks and every stack a test starts: the built-in fake
// (fake-cri, one per node, started by pkg/execlabtest) or a containerd that is
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
	// whose sockets pkg/execlabtest creates per node.
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

// onRuntime puts a stack on the runtime under test: the external endpoint
// for containerd; for the fake, pkg/execlabtest starts a fake-cri per node. The
// shared stacks and newStack's use it.
func onRuntime(opts execlabtest.Options) execlabtest.Options {
	opts.CRIEndpoint = criEndpoint
	return opts
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

// streamingServer is how the runtime's own streaming server answers, for the
// tests that drive it straight from a CRI Exec URL.
type streamingServer struct {
	// v5 tells whether it speaks v5.channel.k8s.io. containerd 1.6 has the
	// upstream server of its day, which stops at v4: a v5 WebSocket gets
	// 403, and SPDY finds no protocol in common.
	v5 bool
	// exitReason is how the error stream words the exit of cmd with code 3.
	exitReason func(cmd []string) string
	// v4Status is the v4 error stream's Status for a non-zero exit with
	// message. containerd's older apimachinery writes an empty "metadata"
	// and escapes <, > and & as Go's json.Marshal does.
	v4Status func(message string) string
	// endsOrphans tells whether a session's command ends when its client
	// goes away. containerd 1.6's streaming Runtime.Exec takes no context,
	// so nothing tells the command; one that neither reads stdin nor
	// writes keeps running until the container stops (measured).
	endsOrphans bool
	// closesOnGarbage tells whether a connection that sends garbage after
	// the upgrade is closed. containerd 1.6 holds it open until the client
	// leaves (measured for 45 s): its spdystream waits for the 16 MiB the
	// bogus frame announces, and the upstream session code of its day
	// returns on the stream creation timeout without closing the
	// connection.
	closesOnGarbage bool
	// concurrentSessions is how many exec sessions TestConcurrentSessions
	// holds open at once. With 1000 at once containerd 1.6's one shim per
	// sandbox once stopped answering ("get state …: context deadline
	// exceeded") and the sessions stalled.
	concurrentSessions int
}

var streamingServers = map[string]streamingServer{
	fakeRuntime: {
		v5:         true,
		exitReason: func([]string) string { return "exit status 3" },
		v4Status: func(message string) string {
			return `{"status":"Failure","message":` + jsonString(message, false) +
				`,"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`
		},
		endsOrphans:        true,
		closesOnGarbage:    true,
		concurrentSessions: 1000,
	},
	containerdRuntime: {
		v5: false,
		exitReason: func(cmd []string) string {
			return fmt.Sprintf("error executing command %v, exit code 3", cmd)
		},
		v4Status: func(message string) string {
			return `{"metadata":{},"status":"Failure","message":` + jsonString(message, true) +
				`,"reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`
		},
		concurrentSessions: 200,
	},
}

// accepts is the list of protocols its handshake refusal names.
func (s streamingServer) accepts() string {
	const upToV4 = "v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io"
	if s.v5 {
		return "[v5.channel.k8s.io " + upToV4 + "]"
	}
	return "[" + upToV4 + "]"
}

// jsonString is s as a JSON string, with <, > and & escaped or not.
func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}
