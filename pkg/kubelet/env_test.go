package kubelet

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/execlab/execlab/internal/testutil"
)

const testNode = "node-1"

// testEnv is a kubelet running against an in-test CRI runtime and a fake
// clientset.
type testEnv struct {
	t       *testing.T
	cri     *fakeCRI
	k       *Kubelet
	client  *fake.Clientset
	rootDir string
	base    string // http://127.0.0.1:port
	http    *http.Client
	stop    func()
	// logs collects the kubelet's log, shown when a test fails.
	logs *testutil.SyncBuffer
	// statusReport is NodeStatusReportFrequency; newEnv's is 200ms.
	statusReport time.Duration
}

// newEnv starts a kubelet; stopping it, the runtime and the leak check are
// registered as cleanups.
func newEnv(t *testing.T) *testEnv {
	t.Helper()
	testutil.CheckGoroutines(t)
	e := &testEnv{
		t:       t,
		cri:     newFakeCRI(t),
		client:  fake.NewClientset(),
		rootDir: t.TempDir(),
		logs:    &testutil.SyncBuffer{},
		http:    &http.Client{Transport: &http.Transport{DisableKeepAlives: true}},

		statusReport: 200 * time.Millisecond,
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kubelet log:\n%s", e.logs.String())
		}
	})
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start runs a kubelet (again) on the env's runtime and clientset.
func (e *testEnv) start() {
	t := e.t
	resolv := filepath.Join(e.rootDir, "resolv.conf")
	if err := os.WriteFile(resolv, []byte("# test\nnameserver 10.0.0.10\nsearch example.com\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := New(Config{
		NodeName:                  testNode,
		Client:                    e.client,
		RuntimeEndpoint:           e.cri.endpoint,
		RootDir:                   e.rootDir,
		Logger:                    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		SyncFrequency:             20 * time.Millisecond,
		NodeStatusUpdateFrequency: 50 * time.Millisecond,
		NodeStatusReportFrequency: e.statusReport,
		NodeLeaseDurationSeconds:  1,
		MaxContainerRestartPeriod: time.Second,
		ResolverConfig:            resolv,
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.k = k
	e.base = "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.Run(ctx, ln) }()
	e.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
		e.stop = func() {}
	}
	waitFor(t, "node registered", func() bool {
		_, err := e.client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil
	})
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func newTestPod(name string) *v1.Pod {
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID("uid-" + name)},
		Spec: v1.PodSpec{
			NodeName:      testNode,
			RestartPolicy: v1.RestartPolicyAlways,
			Containers: []v1.Container{{
				Name:            "c",
				Image:           "busybox:1.36",
				ImagePullPolicy: v1.PullIfNotPresent,
				Command:         []string{"sleep", "1000"},
			}},
		},
	}
}

func (e *testEnv) createPod(pod *v1.Pod) {
	e.t.Helper()
	if _, err := e.client.CoreV1().Pods(pod.Namespace).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *testEnv) getPod(name string) *v1.Pod {
	e.t.Helper()
	pod, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return pod
}

// waitPod waits until the pod's status satisfies cond and returns it.
func (e *testEnv) waitPod(name, what string, cond func(*v1.Pod) bool) *v1.Pod {
	e.t.Helper()
	var pod *v1.Pod
	waitFor(e.t, name+" "+what, func() bool {
		p, err := e.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		pod = p
		return cond(p)
	})
	return pod
}

func running(p *v1.Pod) bool {
	return p.Status.Phase == v1.PodRunning && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil
}

// get sends a GET to the kubelet and returns the status and body.
func (e *testEnv) get(path string) (int, string) {
	e.t.Helper()
	return e.do(http.MethodGet, path)
}

func (e *testEnv) do(method, path string) (int, string) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// assertProto compares protos, showing both in text form when they differ.
func assertProto(t *testing.T, what string, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", what, prototext.Format(got), prototext.Format(want))
	}
}

func ptrTo[T any](v T) *T { return &v }

func fieldRef(path string) *v1.EnvVarSource {
	return &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: path}}
}

// writeCRILog appends lines to a container's log file in the CRI format.
func writeCRILog(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, l := range lines {
		fmt.Fprintln(f, l)
	}
}
