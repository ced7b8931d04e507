package kubelet

import (
	"context"
	"encoding/json"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/kubelet/server"
)

// testStreamURL is what the fake runtime answers Exec, Attach and
// PortForward with, unless a test says otherwise.
const testStreamURL = "http://127.0.0.1:1/exec/abcdefgh"

func (e *testEnv) setStream(stream func(proto.Message) (string, error)) {
	e.cri.mu.Lock()
	defer e.cri.mu.Unlock()
	e.cri.stream = stream
}

// answer returns a stream function that answers url and err.
func answer(url string, err error) func(proto.Message) (string, error) {
	return func(proto.Message) (string, error) { return url, err }
}

// runningPod creates a pod, waits for it to run and returns it as the
// kubelet sees it.
func (e *testEnv) runningPod(pod *v1.Pod) *v1.Pod {
	e.t.Helper()
	e.createPod(pod)
	e.waitPod(pod.Name, "running", running)
	got, ok := e.k.GetPodByName(pod.Namespace, pod.Name)
	if !ok {
		e.t.Fatalf("GetPodByName(%s): not found", pod.Name)
	}
	return got
}

// TestGetExec checks the exec requests the kubelet sends to the runtime
// and its errors, which the kubelet API answers (server's TestExec and
// TestStreamingErrors).
func TestGetExec(t *testing.T) {
	e := newEnv(t)
	web := e.runningPod(newTestPod("web"))
	id := e.cri.running("c")[0]
	ctx := context.Background()

	e.setStream(answer(testStreamURL, nil))
	for _, tc := range []struct {
		name string
		uid  types.UID
		cmd  []string
		opts server.StreamOptions
		want *runtimeapi.ExecRequest
	}{
		{"streams", "", []string{"cat"}, server.StreamOptions{Stdin: true, Stdout: true, Stderr: true},
			&runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"cat"}, Stdin: true, Stdout: true, Stderr: true}},
		{"by pod UID", "uid-web", []string{"both"}, server.StreamOptions{Stdout: true, Stderr: true},
			&runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"both"}, Stdout: true, Stderr: true}},
		{"terminal", "", []string{"cat"}, server.StreamOptions{Stdin: true, Stdout: true, TTY: true},
			&runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"cat"}, Stdin: true, Stdout: true, Tty: true}},
	} {
		before := e.cri.count("Exec")
		u, err := e.k.GetExec(ctx, web, tc.uid, "c", tc.cmd, tc.opts)
		if err != nil || u.String() != testStreamURL {
			t.Errorf("%s: %v %v, want %s", tc.name, u, err, testStreamURL)
		}
		reqs := e.cri.callsOf("Exec")
		if len(reqs) != before+1 {
			t.Fatalf("%s: %d Exec calls", tc.name, len(reqs)-before)
		}
		assertProto(t, tc.name, reqs[before], tc.want)
	}

	for _, tc := range []struct {
		name      string
		uid       types.UID
		container string
		stream    func(proto.Message) (string, error)
		code      codes.Code
		message   string
	}{
		{"unknown container", "", "nope", answer(testStreamURL, nil), codes.Unknown, `container not found ("nope")`},
		{"other pod UID", "other-uid", "c", answer(testStreamURL, nil), codes.Unknown, `container not found ("c")`},
		{"relative URL from the runtime", "", "c", answer("/exec/abcdefgh", nil), codes.Unknown,
			`container runtime returned a relative streaming URL "/exec/abcdefgh"; it must be absolute (http://host:port/...)`},
		// host:port/path, the other form that broke kubelets ≥ 1.36 with cri-dockerd.
		{"scheme-less URL from the runtime", "", "c", answer("127.0.0.1:10010/exec/abcdefgh", nil), codes.Unknown,
			`container runtime returned a streaming URL without a scheme "127.0.0.1:10010/exec/abcdefgh"; it must be absolute (http://host:port/...)`},
		{"scheme-less URL with a host name", "", "c", answer("localhost:10010/exec/abcdefgh", nil), codes.Unknown,
			`container runtime returned a streaming URL without a scheme "localhost:10010/exec/abcdefgh"; it must be absolute (http://host:port/...)`},
		// The runtime's errors come as they are: the API answers their code.
		{"runtime NotFound", "", "c", answer("", status.Error(codes.NotFound, "container is gone")), codes.NotFound, "container is gone"},
		{"runtime out of tokens", "", "c", answer("", status.Error(codes.ResourceExhausted, "maximum number of in-flight requests exceeded")),
			codes.ResourceExhausted, "maximum number of in-flight requests exceeded"},
		{"runtime failure", "", "c", answer("", status.Error(codes.Unknown, "boom")), codes.Unknown, "boom"},
	} {
		e.setStream(tc.stream)
		_, err := e.k.GetExec(ctx, web, tc.uid, tc.container, []string{"ls"}, server.StreamOptions{Stdout: true})
		if st := status.Convert(err); err == nil || st.Code() != tc.code || st.Message() != tc.message {
			t.Errorf("%s: %v, want %s %q", tc.name, err, tc.code, tc.message)
		}
	}
}

func TestGetAttach(t *testing.T) {
	e := newEnv(t)
	web := e.runningPod(newTestPod("web"))
	id := e.cri.running("c")[0]
	ctx := context.Background()

	e.setStream(answer(testStreamURL, nil))
	if u, err := e.k.GetAttach(ctx, web, "", "c", server.StreamOptions{Stdin: true, Stdout: true, Stderr: true}); err != nil || u.String() != testStreamURL {
		t.Errorf("attach: %v %v", u, err)
	}
	assertProto(t, "attach request", e.cri.callsOf("Attach")[0], &runtimeapi.AttachRequest{ContainerId: id, Stdin: true, Stdout: true, Stderr: true})

	if _, err := e.k.GetAttach(ctx, web, "", "nope", server.StreamOptions{Stdout: true}); err == nil || err.Error() != "container nope not found in pod web_default" {
		t.Errorf("attach to unknown container: %v", err)
	}

	// Attach takes the terminal setting from the container, not the query.
	pod := newTestPod("term")
	pod.Spec.Containers[0].TTY = true
	term := e.runningPod(pod)
	e.setStream(answer("", status.Error(codes.NotFound, "stop here")))
	before := e.cri.count("Attach")
	if _, err := e.k.GetAttach(ctx, term, "", "c", server.StreamOptions{Stdin: true, Stdout: true}); status.Code(err) != codes.NotFound {
		t.Errorf("attach: %v", err)
	}
	reqs := e.cri.callsOf("Attach")
	if len(reqs) != before+1 || !reqs[before].(*runtimeapi.AttachRequest).Tty {
		t.Errorf("attach requests %v, want one with tty from the container spec", reqs[before:])
	}
}

func TestGetPortForward(t *testing.T) {
	e := newEnv(t)
	web := e.runningPod(newTestPod("web"))
	sandbox := e.cri.sandboxOf("uid-web")
	ctx := context.Background()

	e.setStream(answer(testStreamURL, nil))
	for _, ports := range [][]int32{nil, {80, 443, 8080}} {
		before := e.cri.count("PortForward")
		if u, err := e.k.GetPortForward(ctx, web, ports); err != nil || u.String() != testStreamURL {
			t.Errorf("ports %v: %v %v", ports, u, err)
		}
		reqs := e.cri.callsOf("PortForward")
		if len(reqs) != before+1 {
			t.Fatalf("ports %v: %d PortForward calls", ports, len(reqs)-before)
		}
		// A SPDY client names the ports per stream, not in the request.
		assertProto(t, "port-forward request", reqs[before], &runtimeapi.PortForwardRequest{PodSandboxId: sandbox, Port: ports})
	}
}

// TestAPI: Run serves the kubelet API (package server) for this kubelet:
// /pods lists only the pods bound to this node, /healthz checks its sync
// loop, and an exec reaches the runtime.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	other := newTestPod("elsewhere")
	other.Spec.NodeName = "node-2"
	e.createPod(other)
	e.createPod(newTestPod("b"))
	e.createPod(newTestPod("a"))
	e.waitPod("a", "running", running)
	e.waitPod("b", "running", running)

	code, body := e.get("/pods")
	if code != 200 {
		t.Fatalf("/pods: %d %s", code, body)
	}
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 2 || list.Items[0].Name != "a" || list.Items[1].Name != "b" {
		t.Errorf("/pods: %s", body)
	}
	if code, body := e.get("/healthz/syncloop"); code != 200 || body != "ok" {
		t.Errorf("/healthz/syncloop: %d %q", code, body)
	}

	// The runtime answers a URL the plain GET cannot be upgraded on.
	e.setStream(answer("http://127.0.0.1:1/exec/x", nil))
	code, body = e.get("/exec/default/a/c?command=ls&output=1")
	var st metav1.Status
	if err := json.Unmarshal([]byte(body), &st); err != nil || code != 400 || st.Message != "Upgrade request required" {
		t.Errorf("exec: %d %q, want 400 with a Status saying %q", code, body, "Upgrade request required")
	}
	if n := e.cri.count("Exec"); n != 1 {
		t.Errorf("%d Exec calls, want 1", n)
	}
}
