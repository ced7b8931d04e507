package apiserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// testServer is a Server serving on a loopback port for one test.
type testServer struct {
	*Server
	url    string
	client kubernetes.Interface
	config *rest.Config
}

// startServer starts a server with opts (an in-memory store unless
// DataDir is set), after configure has seen it, and stops it when the test
// ends.
func startServer(t *testing.T, opts Options, configure ...func(*Server)) *testServer {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range configure {
		f(srv)
	}
	addr := serve(t, srv)
	ts := &testServer{Server: srv, url: "http://" + addr}
	// No keep-alive: a test's connections end with its requests, so that
	// goroutine counts come back to their baseline.
	ts.config = &rest.Config{Host: ts.url, Transport: &http.Transport{DisableKeepAlives: true}, QPS: -1}
	if ts.client, err = kubernetes.NewForConfig(ts.config); err != nil {
		t.Fatal(err)
	}
	return ts
}

// serve serves srv on a loopback port until the test ends, and returns
// the address.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return l.Addr().String()
}

// do sends a raw request and returns the status code, headers and body.
func (ts *testServer) do(t *testing.T, method, path string, header http.Header, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// createNode registers a Ready node whose kubelet listens at kubeletURL
// (empty for none).
func (ts *testServer) createNode(t *testing.T, name, kubeletURL string) *corev1.Node {
	t.Helper()
	node := &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}},
		Status: corev1.NodeStatus{
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady"}},
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.32.4", OSImage: "Debian", KernelVersion: "6.1", ContainerRuntimeVersion: "fake-cri://0.1"},
		},
	}
	if kubeletURL != "" {
		host, port, err := net.SplitHostPort(strings.TrimPrefix(kubeletURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		node.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: host}, {Type: corev1.NodeHostName, Address: name}}
		node.Status.DaemonEndpoints.KubeletEndpoint.Port = int32(p)
	}
	created, err := ts.client.CoreV1().Nodes().Create(context.Background(), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return created
}

// createRunningPod creates a pod of one container per name, bound to node,
// and reports it Running and ready as a kubelet would.
func (ts *testServer) createRunningPod(t *testing.T, ns, name, node string, containers ...string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: corev1.PodSpec{NodeName: node}}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	created, err := ts.client.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	created.Status.Phase = corev1.PodRunning
	created.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	for _, c := range containers {
		created.Status.ContainerStatuses = append(created.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c, Ready: true, Image: "busybox", State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	running, err := ts.client.CoreV1().Pods(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return running
}

// kubectlResult is what a kubectl run left.
type kubectlResult struct {
	stdout, stderr string
	code           int
}

const kubectlDir = "/usr/lib/google-cloud-sdk/bin"

// kubectl runs a real kubectl binary (a path, or a minor version such as
// "1.28") against ts with a kubeconfig and cache of its own, so that the
// dispatcher's cached /version never leaks between servers.
func (ts *testServer) kubectl(t *testing.T, bin string, env []string, stdin io.Reader, args ...string) kubectlResult {
	t.Helper()
	if !strings.HasPrefix(bin, "/") {
		bin = filepath.Join(kubectlDir, "kubectl."+bin)
	}
	if _, err := os.Stat(bin); err != nil {
		t.Skipf("no %s: %v", bin, err)
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	config := "apiVersion: v1\nkind: Config\nclusters:\n- name: t\n  cluster:\n    server: " + ts.url +
		"\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: t\n  context: {cluster: t, user: u, namespace: default}\ncurrent-context: t\n"
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := kubectlResult{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("kubectl %v: %v", args, err)
	}
	return r
}

// latestKubectl is the dispatcher, which runs its own kubectl 1.32
// against this server (see serverMinor).
const latestKubectl = "/usr/bin/kubectl"

// goroutineBaseline returns a check that the goroutine count comes back to
// what it is now once sessions end, which takes a moment.
func goroutineBaseline(t *testing.T) func() {
	t.Helper()
	base := runtime.NumGoroutine()
	return func() {
		t.Helper()
		n := 0
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if n = runtime.NumGoroutine(); n <= base {
				return
			}
		}
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, baseline %d:\n%s", n, base, buf[:runtime.Stack(buf, true)])
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
	}
}
