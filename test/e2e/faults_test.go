package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/streamtranslator"
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
func startSleeper(t *testing.T, s *execlabtest.Stack, c client, seconds string) *exec.Cmd {
	t.Helper()
	return startExec(t, s, c, []string{"sleep", seconds}, "sleep", seconds)
}

// startExec runs c's exec of cmd in s's demo pod and waits until a process
// with the command line probe runs.
func startExec(t *testing.T, s *execlabtest.Stack, c client, probe []string, cmd ...string) *exec.Cmd {
	t.Helper()
	client := c.command(context.Background(), t, s, append([]string{"exec", "demo", "--"}, cmd...)...)
	var stderr bytes.Buffer
	client.Stderr = &stderr
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Process.Kill(); client.Wait() })
	if !waitUntil(20*time.Second, func() bool { return len(processesRunning(probe...)) == 1 }) {
		t.Fatalf("%q never started; client stderr: %s", probe, stderr.String())
	}
	return client
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
// command, over WebSocket and over SPDY, and leaves nothing running. The
// fake runtime hangs the command up as a terminal would: SIGHUP first,
// which a shell may handle, and SIGKILL past a grace period for one that
// ignores it. containerd 1.6 leaves it running (see orphanEnds).
func TestClientDisconnectEndsProcess(t *testing.T) {
	for i, c := range []client{kubectlLatest, kubectlNoWS} {
		t.Run(c.name, func(t *testing.T) {
			t.Run("sleep", func(t *testing.T) {
				seconds := fmt.Sprint(987100 + 10*i)
				cmd := startSleeper(t, shared, c, seconds)
				cmd.Process.Kill()
				orphanEnds(t, "sleep "+seconds, []string{"sleep", seconds})
			})
			t.Run("SIGHUP handled", func(t *testing.T) {
				seconds := fmt.Sprint(987101 + 10*i)
				marker := filepath.Join(t.TempDir(), "hup")
				shell := []string{"sh", "-c", `trap 'echo hup > "$0"; exit 0' HUP; while :; do sleep ` + seconds + `; done`, marker}
				cmd := startExec(t, shared, c, []string{"sleep", seconds}, shell...)
				cmd.Process.Kill()
				orphanEnds(t, "the shell", shell, []string{"sleep", seconds})
				if got, err := os.ReadFile(marker); runtimeName == fakeRuntime && (err != nil || string(got) != "hup\n") {
					t.Errorf("the shell's HUP trap wrote %q, %v; want it to have run", got, err)
				}
			})
			t.Run("SIGHUP ignored", func(t *testing.T) {
				seconds := fmt.Sprint(987102 + 10*i)
				cmd := startExec(t, shared, c, []string{"sleep", seconds}, "sh", "-c", "trap '' HUP; exec sleep "+seconds)
				cmd.Process.Kill()
				orphanEnds(t, "sleep "+seconds+", deaf to SIGHUP,", []string{"sleep", seconds})
			})
		})
	}
}

// orphanEnds checks the command line cmd of a session whose client or hop
// went away: gone within seconds where the runtime ends such sessions; where
// it does not (containerd 1.6), still running, and then killed by the test
// with the other command lines in also, so that nothing is left.
func orphanEnds(t *testing.T, what string, cmd []string, also ...[]string) {
	t.Helper()
	if streamingServers[runtimeName].endsOrphans {
		if !waitUntil(10*time.Second, func() bool { return len(processesRunning(cmd...)) == 0 }) {
			t.Errorf("%s still runs 10 s after its session was cut", what)
		}
		return
	}
	time.Sleep(2 * time.Second)
	pids := processesRunning(cmd...)
	if len(pids) != 1 {
		t.Errorf("%s: %d processes 2 s after its session was cut; %s leaves the one running", what, len(pids), runtimeName)
	}
	for _, c := range append(also, cmd) {
		for _, pid := range processesRunning(c...) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// errNoStatus is what kubectl over WebSocket says when a translating hop's
// SPDY side ends without a status.
var errNoStatus = "error: Internal error occurred: " + streamtranslator.ErrNoStatus.Error()

// faultSession is an exec session that a test kills a component under:
// one client through one apiserver streaming mode.
type faultSession struct {
	c    client
	mode string // the apiserver's --streaming-mode; "" is translate
	// stderr is the last line the client prints once the session is cut;
	// "" for a client that exits 0 and prints nothing.
	stderr string
}

// cutSessions starts each session on a stack of its streaming mode, kills
// the component that kill picks from each stack, and checks that every
// client is done within seconds, as the session says, with the session's
// command gone. It returns the stacks by mode.
//
// A WebSocket that reaches the dead hop as such tells the client: it
// closes without a close frame. SPDY has no such signal, and client-go
// takes an error stream that ends without a Status for success
// (remotecommand's watchErrorStream): kubectl over SPDY exits 0, as against
// a real cluster. Upstream's StreamTranslatorHandler, which turns WebSocket
// into SPDY, gets that success and sends it on; pkg/streamtranslator, which
// our apiserver and kubelet translate with, sends a Failure instead.
func cutSessions(t *testing.T, sessions []faultSession, kill func(*execlabtest.Stack) *execlabtest.Component) map[string]*execlabtest.Stack {
	t.Helper()
	stacks := map[string]*execlabtest.Stack{}
	for _, sess := range sessions {
		if stacks[sess.mode] == nil {
			stacks[sess.mode] = newStack(t, execlabtest.Options{StreamingMode: apiserver.StreamingMode(sess.mode)})
		}
	}
	type running struct {
		faultSession
		cmd     *exec.Cmd
		stderr  *bytes.Buffer
		seconds string
	}
	var started []running
	for i, sess := range sessions {
		seconds := fmt.Sprint(987200 + i)
		var stderr bytes.Buffer
		cmd := sess.c.command(context.Background(), t, stacks[sess.mode], "exec", "demo", "--", "sleep", seconds)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		if !waitUntil(20*time.Second, func() bool { return len(processesRunning("sleep", seconds)) == 1 }) {
			t.Fatalf("sleep %s never started; client stderr: %s", seconds, stderr.String())
		}
		started = append(started, running{sess, cmd, &stderr, seconds})
	}
	for _, s := range stacks {
		kill(s).Kill()
	}
	for _, r := range started {
		err := exitsWithin(t, r.cmd, 10*time.Second)
		var stderr string
		if r.stderr.Len() > 0 {
			stderr = strings.TrimSuffix(lastLine(r.stderr.String()), "\n")
		}
		if wantErr := r.faultSession.stderr != ""; (err != nil) != wantErr || stderr != r.faultSession.stderr {
			t.Errorf("%s through %q: %v, stderr %q; want %q", r.c.name, r.mode, err, r.stderr.String(), r.faultSession.stderr)
		}
		orphanEnds(t, fmt.Sprintf("%s through %q: the session's command", r.c.name, r.mode), []string{"sleep", r.seconds})
	}
	return stacks
}

// TestKubeletDiesMidSession: every client's stream ends within seconds and
// the command ends; the kubelet, restarted, adopts the running demo
// container instead of starting another.
func TestKubeletDiesMidSession(t *testing.T) {
	t.Parallel()
	stacks := cutSessions(t, []faultSession{
		{c: kubectlLatest, stderr: errNoStatus},
		{c: kubectlNoWS},
		{c: kubectlLatest, mode: "passthrough", stderr: "error: error reading from error stream: next reader: websocket: close 1006 (abnormal closure): unexpected EOF"},
	}, func(s *execlabtest.Stack) *execlabtest.Component { return s.Nodes[0].Kubelet })
	s := stacks[""]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rs := criClientFor(t, s.Nodes[0].CRIEndpoint)
	before := stackDemoContainerID(t, s, rs)
	if err := s.Restart(ctx, s.Nodes[0].Kubelet); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // two sync periods: a duplicate would have started
	pod, err := s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// By pod UID: a containerd shared with other stacks runs their demo
	// pods too.
	containers, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID), "io.kubernetes.container.name": "main"},
	}})
	if err != nil || len(containers.Containers) != 1 || containers.Containers[0].Id != before ||
		containers.Containers[0].State != runtimeapi.ContainerState_CONTAINER_RUNNING {
		t.Errorf("after the kubelet restarted: %v, containers %v; want the one running demo container", err, containers.GetContainers())
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "echo", "still here"); r.code != 0 || r.stdout != "still here\n" {
		t.Errorf("exec after the kubelet restarted: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestRuntimeDiesMidSession: every client's stream ends within seconds and
// the execs end with the runtime; its containers do not: restarted, the
// runtime finds the demo container still running under its shim, as
// containerd does, and the kubelet carries on with it.
func TestRuntimeDiesMidSession(t *testing.T) {
	skipOn(t, containerdRuntime, "the runtime is an external one ("+criEndpoint+"), not ours to kill")
	t.Parallel()
	stacks := cutSessions(t, []faultSession{
		{c: kubectlLatest, stderr: errNoStatus},
		{c: kubectlNoWS},
		// The kubelet translates.
		{c: kubectlLatest, mode: "passthrough", stderr: errNoStatus},
	}, func(s *execlabtest.Stack) *execlabtest.Component { return s.Nodes[0].Runtime })
	s := stacks[""]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pod, err := s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := pod.Status.ContainerStatuses[0]
	if err := s.Restart(ctx, s.Nodes[0].Runtime); err != nil {
		t.Fatal(err)
	}
	rs := criClientFor(t, s.Nodes[0].CRIEndpoint)
	if id := stackDemoContainerID(t, s, rs); !strings.HasSuffix(before.ContainerID, "://"+id) {
		t.Errorf("the demo container is %s after the restart, was %s", id, before.ContainerID)
	}
	time.Sleep(2 * time.Second) // two sync periods: a restart would have begun
	pod, err = s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	after := pod.Status.ContainerStatuses[0]
	if after.ContainerID != before.ContainerID || after.RestartCount != 0 || after.State.Running == nil ||
		!after.State.Running.StartedAt.Equal(&before.State.Running.StartedAt) {
		t.Errorf("the demo container after the runtime restarted: %+v; was %+v", after, before)
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "echo", "still here"); r.code != 0 || r.stdout != "still here\n" {
		t.Errorf("exec after the runtime restarted: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}

// TestAPIServerRestartKeepsObjects: killed and restarted, the apiserver
// serves the same objects, and exec works through it again.
func TestAPIServerRestartKeepsObjects(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before, err := s.Client().CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Written just before the crash: an answered write is on disk.
	kept, err := s.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kept"}}, metav1.CreateOptions{})
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
	if ns, err := s.Client().CoreV1().Namespaces().Get(ctx, "kept", metav1.GetOptions{}); err != nil || ns.UID != kept.UID || ns.ResourceVersion != kept.ResourceVersion {
		t.Errorf("namespace created just before the crash: %v, %+v; want %+v", err, ns.ObjectMeta, kept.ObjectMeta)
	}
	if r := kubectlLatest.run(t, s, nil, "exec", "demo", "--", "echo", "back"); r.code != 0 || r.stdout != "back\n" {
		t.Errorf("exec after the apiserver restarted: exit %d, %q %q", r.code, r.stdout, r.stderr)
	}
}
