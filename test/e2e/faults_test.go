package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/stack"
)

// processesRunning lists the PIDs whose command line is exactly args.
func processesRunning(args ...string) []int {
	want := []byte(joinArgs(args))
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Equal(cmdline, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func joinArgs(args []string) string {
	var b bytes.Buffer
	for _, a := range args {
		b.WriteString(a)
		b.WriteByte(0)
	}
	return b.String()
}

// waitUntil polls cond every 50 ms for up to d.
func waitUntil(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// startSleeper runs c's exec of a sleep unique to the test in s's demo pod
// and waits until the sleep runs.
func startSleeper(t *testing.T, s *stack.Stack, c client, seconds string) *exec.Cmd {
	t.Helper()
	cmd := c.command(context.Background(), t, s, "exec", "demo", "--", "sleep", seconds)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if !waitUntil(20*time.Second, func() bool { return len(processesRunning("sleep", seconds)) == 1 }) {
		t.Fatalf("sleep %s never started; client stderr: %s", seconds, stderr.String())
	}
	return cmd
}

// exitsWithin waits for cmd to exit on its own, and says how it did.
func exitsWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("the client still waits %v after the fault", d)
		return nil
	}
}

// TestClientDisconnectEndsProcess: a client that goes away ends the remote
// command, over WebSocket and over SPDY.
func TestClientDisconnectEndsProcess(t *testing.T) {
	for i, c := range []client{kubectlLatest, kubectlNoWS} {
		t.Run(c.name, func(t *testing.T) {
			seconds := fmt.Sprint(987100 + i)
			cmd := startSleeper(t, shared, c, seconds)
			cmd.Process.Kill()
			if !waitUntil(10*time.Second, func() bool { return len(processesRunning("sleep", seconds)) == 0 }) {
				t.Errorf("sleep %s still runs 10 s after its client was killed", seconds)
			}
		})
	}
}

// TestKubeletDiesMidSession: the client's stream ends within seconds, the command ends, and the kubelet, restarted, adopts the
// running demo container instead of starting another.
func TestKubeletDiesMidSession(t *testing.T) {
	t.Parallel()
	s := newStack(t, stack.Options{})
	cmd := startSleeper(t, s, kubectlLatest, "987200")
	s.Nodes[0].Kubelet.Kill()
	// kubectl exits 0 here, as against a real cluster: client-go takes an
	// error stream closed without a Status for success.
	t.Logf("kubectl after the kubelet died: %v", exitsWithin(t, cmd, 10*time.Second))
	if !waitUntil(10*time.Second, func() bool { return len(processesRunning("sleep", "987200")) == 0 }) {
		t.Error("the session's command still runs after the kubelet died")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Restart(ctx, s.Nodes[0].Kubelet); err != nil {
		t.Fatal(err)
	}
	rs := criClientFor(t, s.Nodes[0].CRIEndpoint)
	time.Sleep(2 * time.Second) // two sync periods: a duplicate would have started
	containers, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.name": "demo", "io.kubernetes.container.name": "main"},
	}})
	if err != nil || len(containers.Containers) != 1 || containers.Containers[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after the kubelet restarted: %v, containers %v; want the one running demo container", err, containers.GetContainers())
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "echo", "still here"); r.code != 0 || r.stdout != "still here\n" {
		t.Errorf("exec after the kubelet restarted: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestRuntimeDiesMidSession: the client's stream ends within seconds and nothing of the runtime's is left running; restarted, the
// runtime reports the containers it lost as exited, and the kubelet starts
// the demo container again.
func TestRuntimeDiesMidSession(t *testing.T) {
	if criEndpoint != "" {
		t.Skip("the runtime is an external one (" + criEndpoint + "), not ours to kill")
	}
	t.Parallel()
	s := newStack(t, stack.Options{})
	cmd := startSleeper(t, s, kubectlNoWS, "987300")
	s.Nodes[0].Runtime.Kill()
	t.Logf("kubectl after the runtime died: %v", exitsWithin(t, cmd, 10*time.Second))
	if !waitUntil(10*time.Second, func() bool { return len(processesRunning("sleep", "987300")) == 0 }) {
		t.Error("the session's command still runs after the runtime died")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.Restart(ctx, s.Nodes[0].Runtime); err != nil {
		t.Fatal(err)
	}
	pod, err := s.WaitPod(ctx, "default", "demo", func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].RestartCount >= 1 && st[0].State.Running != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	last := pod.Status.ContainerStatuses[0].LastTerminationState.Terminated
	if last == nil || last.ExitCode != 255 || last.Reason != "Unknown" {
		t.Errorf("the lost container's last state: %+v; want exit 255, reason Unknown", last)
	}
}

// TestAPIServerRestartKeepsObjects: killed and restarted, the apiserver
// serves the same objects, and exec works through it again.
func TestAPIServerRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	s := newStack(t, stack.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.APIServer.Kill()
	if err := s.Restart(ctx, s.APIServer); err != nil {
		t.Fatal(err)
	}
	after, err := s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil || after.UID != before.UID || after.Spec.NodeName != before.Spec.NodeName {
		t.Fatalf("after the restart: %v, %+v", err, after.ObjectMeta)
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "echo", "back"); r.code != 0 || r.stdout != "back\n" {
		t.Errorf("exec after the apiserver restarted: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
