// Package e2e drives the real execlab binaries with real clients — kubectl
// of several versions, mini-kubectl and client-go — through every hop.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

var (
	// binDir holds the binaries built for this run.
	binDir string
	// stateDir holds the state of the stacks shared between tests.
	stateDir string
	// shared is the stack most tests use: one node, the demo pod running,
	// the apiserver in its default streaming mode (translate).
	shared *execlabtest.Stack
	// passthrough is started on first use by passthroughStack.
	passthrough struct {
		once  sync.Once
		stack *execlabtest.Stack
		err   error
	}
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := checkRuntime(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	tmp, err := os.MkdirTemp("", "execlab-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	binDir = filepath.Join(tmp, "bin")
	build := exec.Command("go", "build", "-o", binDir+"/", "../../cmd/...", "./echoserver")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build binaries:", err)
		return 1
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stateDir = tmp
	shared, err = startStack(ctx, filepath.Join(tmp, "shared"), onRuntime(execlabtest.Options{}))
	if err != nil {
		fmt.Fprintln(os.Stderr, "start stack:", err)
		return 1
	}
	code := m.Run()
	for _, s := range []*execlabtest.Stack{shared, passthrough.stack} {
		if s == nil {
			continue
		}
		if code == 0 {
			if err := checkNoGoroutineLeaks(s); err != nil {
				fmt.Fprintln(os.Stderr, "FAIL: goroutine leak after all sessions ended:", err)
				code = 1
			}
		}
		if err := s.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "FAIL: stop stack:", err)
			code = 1
		}
	}
	return code
}

// passthroughStack is a shared stack whose apiserver passes WebSocket
// upgrades straight through to the kubelet instead of translating them.
func passthroughStack(t *testing.T) *execlabtest.Stack {
	t.Helper()
	passthrough.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		passthrough.stack, passthrough.err = startStack(ctx, filepath.Join(stateDir, "passthrough"), onRuntime(execlabtest.Options{StreamingMode: "passthrough"}))
	})
	if passthrough.err != nil {
		t.Fatal(passthrough.err)
	}
	return passthrough.stack
}

// adminToken is the token of every stack's admin user.
const adminToken = "execlab-admin-token"

// startStack starts a stack of processes and creates the demo pod in it.
func startStack(ctx context.Context, state string, opts execlabtest.Options) (*execlabtest.Stack, error) {
	opts.BinDir = binDir
	opts.StateDir = state
	opts.AdminToken = adminToken
	s, err := execlabtest.Start(ctx, opts)
	if err != nil {
		return nil, err
	}
	if _, err := s.CreatePod(ctx, demoPod()); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, s.Nodes[0].Kubelet.Log())
	}
	recordBaseline(s)
	return s, nil
}

// demoPod is the pod scripts/demo-pod.yaml describes.
func demoPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name:  "main",
			Image: "busybox",
			// Nothing can be pulled offline: containerd has busybox imported.
			ImagePullPolicy: corev1.PullIfNotPresent,
			Command:         []string{"sh", "-c", "echo demo started; exec sleep 1000000"},
		}}},
	}
}

// newStack starts a stack of the test's own on the runtime under test,
// stopped when the test ends.
func newStack(t *testing.T, opts execlabtest.Options) *execlabtest.Stack {
	t.Helper()
	return newStackOn(t, runtimeName, opts)
}

// newStackOn is newStack on the named runtime.
func newStackOn(t *testing.T, runtime string, opts execlabtest.Options) *execlabtest.Stack {
	t.Helper()
	if runtime == containerdRuntime {
		opts = onRuntime(opts)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := startStack(ctx, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	return s
}
