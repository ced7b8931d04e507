package execlabtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/internal/goroutines"
)

// sleeper is a pod whose one container sleeps.
func sleeper(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "busybox", Command: []string{"sleep", "1000000"},
		}}},
	}
}

// execIn runs cmd in the pod's container and returns its stdout.
func execIn(t *testing.T, s *Stack, pod string, cmd ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := execOut(ctx, s, pod, cmd...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// execOut runs cmd in the pod's container over SPDY and returns its stdout.
func execOut(ctx context.Context, s *Stack, pod string, cmd ...string) (string, error) {
	req := s.Client().CoreV1().RESTClient().Post().
		Resource("pods").Namespace("default").Name(pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{Command: cmd, Stdout: true, Stderr: true}, scheme.ParameterCodec)
	exec, err := remotecommand.NewSPDYExecutor(s.RESTConfig(), http.MethodPost, req.URL())
	if err != nil {
		return "", err
	}
	var stdout, stderr bytes.Buffer
	if err := exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}); err != nil {
		return "", fmt.Errorf("exec %q in %s: %w; stderr %q", cmd, pod, err, stderr.String())
	}
	return stdout.String(), nil
}

// kubeletLists reports whether the node's kubelet lists the pod at its
// /pods endpoint.
func kubeletLists(s *Stack, n *Node, pod string) bool {
	resp, err := s.http.Get(n.Kubelet.URL + "/pods")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var list corev1.PodList
	if json.NewDecoder(resp.Body).Decode(&list) != nil {
		return false
	}
	for _, p := range list.Items {
		if p.Name == pod {
			return true
		}
	}
	return false
}

func createPod(t *testing.T, s *Stack, pod *corev1.Pod) *corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	created, err := s.CreatePod(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// TestTwentyStacksInParallel: twenty stacks run at once in one process,
// each on ports and in a directory of its own; an exec goes through each,
// and each stops with none of its goroutines left.
func TestTwentyStacksInParallel(t *testing.T) {
	const n = 20
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stacks := make([]*Stack, n)
	var wg sync.WaitGroup
	for i := range stacks {
		wg.Go(func() {
			s, err := Start(ctx, Options{StateDir: filepath.Join(dir, fmt.Sprint(i))})
			if err != nil {
				t.Errorf("stack %d: %v", i, err)
				return
			}
			stacks[i] = s
			if _, err := s.CreatePod(ctx, sleeper("p")); err != nil {
				t.Errorf("stack %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	ports := map[string]int{}
	for i, s := range stacks {
		if s == nil {
			continue
		}
		for _, c := range s.Components() {
			if c.URL == "" {
				continue
			}
			if j, ok := ports[c.URL]; ok {
				t.Errorf("stacks %d and %d both serve %s", j, i, c.URL)
			}
			ports[c.URL] = i
		}
	}
	// Every stack is up before the first exec: they all run at once.
	for i, s := range stacks {
		if s == nil {
			continue
		}
		wg.Go(func() {
			want := fmt.Sprintf("stack %d\n", i)
			if got, err := execOut(ctx, s, "p", "echo", "stack", fmt.Sprint(i)); err != nil || got != want {
				t.Errorf("exec in stack %d: %q, %v; want %q", i, got, err, want)
			}
		})
	}
	wg.Wait()
	for i, s := range stacks {
		if s == nil {
			continue
		}
		wg.Go(func() {
			if err := s.Stop(); err != nil {
				t.Errorf("stop stack %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for _, s := range stacks {
		if s != nil {
			goroutines.Wait(t, 0, func() int { n, _ := goroutines.Labelled(stackLabel, s.id); return n },
				func() string { _, dump := goroutines.Labelled(stackLabel, s.id); return dump })
		}
	}
}

// TestKillAndRestart kills each component of a stack in this process and
// starts it again, as the end-to-end suite does with processes
// (test/e2e/faults_test.go): the apiserver keeps its objects, the kubelet
// adopts the running container, and the runtime, restarted, reports the
// container it lost, which the kubelet starts again.
func TestKillAndRestart(t *testing.T) {
	s := New(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := createPod(t, s, sleeper("p"))
	node := s.Nodes[0]

	s.APIServer.Kill()
	if _, err := s.Client().CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); err == nil {
		t.Fatal("the killed apiserver still answers")
	}
	if err := s.Restart(ctx, s.APIServer); err != nil {
		t.Fatal(err)
	}
	after, err := s.Client().CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{})
	if err != nil || after.UID != before.UID {
		t.Fatalf("after the apiserver restarted: %v, %+v", err, after.ObjectMeta)
	}
	if got := execIn(t, s, "p", "echo", "apiserver back"); got != "apiserver back\n" {
		t.Errorf("exec after the apiserver restarted: %q", got)
	}

	node.Kubelet.Kill()
	if err := s.Restart(ctx, node.Kubelet); err != nil {
		t.Fatal(err)
	}
	// It serves before its informer has listed the pods, and answers an
	// exec for a pod it does not know yet with 404, as upstream's does.
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return kubeletLists(s, node, "p"), nil
	}); err != nil {
		t.Fatal("the restarted kubelet never listed the pod")
	}
	if got := execIn(t, s, "p", "echo", "kubelet back"); got != "kubelet back\n" {
		t.Errorf("exec after the kubelet restarted: %q", got)
	}
	if p, _ := s.Client().CoreV1().Pods("default").Get(ctx, "p", metav1.GetOptions{}); p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("the kubelet restarted the container: %+v", p.Status.ContainerStatuses[0])
	}

	node.Runtime.Kill()
	if err := s.Restart(ctx, node.Runtime); err != nil {
		t.Fatal(err)
	}
	p, err := s.WaitPod(ctx, "default", "p", func(p *corev1.Pod) bool {
		st := p.Status.ContainerStatuses
		return len(st) == 1 && st[0].RestartCount >= 1 && st[0].State.Running != nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if last := p.Status.ContainerStatuses[0].LastTerminationState.Terminated; last == nil || last.ExitCode != 255 || last.Reason != "Unknown" {
		t.Errorf("the lost container's last state: %+v; want exit 255, reason Unknown", last)
	}
	if got := execIn(t, s, "p", "echo", "runtime back"); got != "runtime back\n" {
		t.Errorf("exec after the runtime restarted: %q", got)
	}
}

// TestInsecure: without TLS and authentication, plain HTTP reaches the
// API with no credentials.
func TestInsecure(t *testing.T) {
	s := New(t, Options{Insecure: true})
	if !strings.HasPrefix(s.APIServer.URL, "http://") || s.CertDir != "" || s.RESTConfig().BearerToken != "" {
		t.Fatalf("insecure stack: %s, cert dir %q", s.APIServer.URL, s.CertDir)
	}
	createPod(t, s, sleeper("p"))
	if got := execIn(t, s, "p", "echo", "plain"); got != "plain\n" {
		t.Errorf("exec: %q", got)
	}
}

// TestNodesAndLayout: NodeCount names the nodes; each node's components
// are named after it in the state directory, which holds nothing else of
// the stack's.
func TestNodesAndLayout(t *testing.T) {
	dir := t.TempDir()
	s := New(t, Options{StateDir: dir, NodeCount: 2})
	var names []string
	for _, c := range s.Components() {
		names = append(names, c.Name)
		if _, err := os.Stat(c.LogPath); err != nil || filepath.Dir(c.LogPath) != filepath.Join(dir, "logs") {
			t.Errorf("%s logs to %s: %v", c.Name, c.LogPath, err)
		}
	}
	if got := strings.Join(names, " "); got != "apiserver cri-node-1 kubelet-node-1 cri-node-2 kubelet-node-2" {
		t.Errorf("components %s", got)
	}
	for _, n := range s.Nodes {
		if n.CRISocket != filepath.Join(dir, "cri-"+n.Name, "fake-cri.sock") {
			t.Errorf("node %s's socket: %s", n.Name, n.CRISocket)
		}
	}
	for _, f := range []string{"kubeconfig", "kubelet.kubeconfig", "apiserver/tokens.csv", "apiserver/policy.yaml", "apiserver/pki/ca.crt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestStateKept: a stack started again on the same state directory keeps
// its admin token and a policy a person edited; options given anew win.
func TestStateKept(t *testing.T) {
	dir := t.TempDir()
	first := New(t, Options{StateDir: dir})
	token := first.AdminToken()
	if len(token) < 32 {
		t.Fatalf("admin token %q", token)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	edited := "rules:\n- users: [\"alice\"]\n  verbs: [\"get\"]\n  resources: [\"pods\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "apiserver/policy.yaml"), []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	second := New(t, Options{StateDir: dir})
	if second.AdminToken() != token {
		t.Errorf("second start's admin token %q, want the first's %q", second.AdminToken(), token)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "apiserver/policy.yaml")); string(b) != edited {
		t.Errorf("the edited policy became %q", b)
	}
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	third := New(t, Options{StateDir: dir, AdminToken: "given", Policy: "rules: []\n"})
	if third.AdminToken() != "given" {
		t.Errorf("admin token %q, want the one given", third.AdminToken())
	}
}

// TestUsersKeepTheirTokens: a user given no token gets the one a previous
// start in the state directory gave it, as admin does, and it works.
func TestUsersKeepTheirTokens(t *testing.T) {
	dir := t.TempDir()
	users := func(s *Stack) map[string]string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, tokensFile))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := keptTokens(filepath.Join(dir, tokensFile))
		if err != nil {
			t.Fatal(err)
		}
		if kept["admin"] != s.AdminToken() || !strings.Contains(string(b), ",alice,alice,\"\"\n") {
			t.Errorf("token file:\n%s", b)
		}
		return kept
	}
	first := New(t, Options{StateDir: dir, Users: []User{{Name: "alice"}, {Name: "bob", Token: "bobs-token"}}})
	before := users(first)
	if len(before["alice"]) < 32 || before["bob"] != "bobs-token" {
		t.Fatalf("tokens %q", before)
	}
	config := first.RESTConfig()
	config.BearerToken = before["alice"]
	if _, err := first.Client().CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	second := New(t, Options{StateDir: dir, Users: []User{{Name: "alice"}, {Name: "bob"}}})
	if after := users(second); after["alice"] != before["alice"] || after["bob"] != "bobs-token" {
		t.Errorf("second start's tokens %q, want the first's %q", after, before)
	}
}

func TestOptionsChecked(t *testing.T) {
	for _, o := range []Options{
		{},
		{StateDir: "x", NodeCount: 2, KubeletPort: 10250},
		{StateDir: "x", Nodes: []string{"a"}, NodeCount: 2},
		{StateDir: "x", Insecure: true, BinDir: "bin"},
		{StateDir: "x", Detach: true},
	} {
		if _, err := Start(context.Background(), o); err == nil {
			t.Errorf("Start(%+v) started", o)
		}
	}
}

// BenchmarkStart: an in-process stack, from nothing to a Ready node, and
// stopped again (stopping is not timed).
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		dir := b.TempDir()
		s, err := Start(context.Background(), Options{StateDir: dir})
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := s.Stop(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
