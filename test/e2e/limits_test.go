package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestTokenBoundThroughTheChain fills the runtime's token cache: 1000
// streaming URLs handed out and never used. The next CRI Exec fails with
// ResourceExhausted, which the kubelet answers 429 with Retry-After: 60
// (the token TTL), as upstream's streaming.WriteError; the apiserver
// passes the kubelet's answer through unchanged, as its
// UpgradeAwareHandler does with any non-101 answer. Each client reports
// the message.
func TestTokenBoundThroughTheChain(t *testing.T) {
	// containerd's cache is shared by every stack of the run: filling it
	// would fail their execs for a minute.
	t.Parallel()
	s := newStackOn(t, fakeRuntime, execlabtest.Options{})
	rs := criClientFor(t, s.Nodes[0].CRIEndpoint)
	id := stackDemoContainerID(t, s, rs)
	req := &runtimeapi.ExecRequest{ContainerId: id, Cmd: []string{"true"}, Stdout: true}
	for {
		_, err := rs.Exec(context.Background(), req)
		if err == nil {
			continue
		}
		if st, _ := status.FromError(err); st.Code() != codes.ResourceExhausted || st.Message() != "maximum number of in-flight requests exceeded" {
			t.Fatalf("CRI Exec: %v, want ResourceExhausted once 1000 URLs wait", err)
		}
		break
	}

	const message = "maximum number of in-flight requests exceeded"
	resp, body := upgradeRequest(t, s, "demo/exec?command=true&stdout=true")
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" ||
		st.Code != http.StatusTooManyRequests || st.Reason != metav1.StatusReasonTooManyRequests || st.Message != message ||
		st.Details == nil || st.Details.RetryAfterSeconds != 60 {
		t.Errorf("SPDY upgrade: %s, Retry-After %q, %s; want 429, 60 and a TooManyRequests Status", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	for _, tc := range []struct {
		c      client
		stderr string
	}{
		// Over SPDY client-go turns the Status into an API error.
		{kubectlNoWS, "Error from server (TooManyRequests): " + message + "\n"},
		// Over WebSocket the apiserver's translator has upgraded the
		// client before it asks the kubelet. Its SPDY client reports the
		// refusal as a plain error, which the translator sends on the error
		// channel as an InternalError, as kube-apiserver's does.
		{kubectlLatest, "error: Internal error occurred: unable to upgrade connection: " + message + "\n"},
	} {
		if r := tc.c.run(t, s, nil, "exec", "demo", "--", "true"); r.code != 1 || r.stderr != tc.stderr {
			t.Errorf("%s: exit %d, stderr %q; want exit 1, %q", tc.c.name, r.code, r.stderr, tc.stderr)
		}
	}
}

// upgradeRequest sends an SPDY exec or attach upgrade for the pod path
// (such as "demo/exec?command=true&stdout=true") to s's apiserver as admin,
// and returns the answer, which the test expects not to be a 101.
func upgradeRequest(t *testing.T, s *execlabtest.Stack, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.RESTConfig().Host+"/api/v1/namespaces/default/pods/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range spdyUpgrade {
		req.Header[k] = v
	}
	resp, err := http1ClientFor(t, s).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// stackDemoContainerID is stack s's demo container. Its pod's UID tells it
// apart from the other stacks' demo pods on a runtime they share.
func stackDemoContainerID(t *testing.T, s *execlabtest.Stack, rs runtimeapi.RuntimeServiceClient) string {
	t.Helper()
	pod, err := s.Client().CoreV1().Pods("default").Get(context.Background(), "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := rs.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State:         &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING},
		LabelSelector: map[string]string{"io.kubernetes.pod.uid": string(pod.UID), "io.kubernetes.container.name": "main"},
	}})
	if err != nil || len(resp.Containers) != 1 {
		t.Fatalf("list demo container: %v, %d found", err, len(resp.GetContainers()))
	}
	return resp.Containers[0].Id
}

// TestSessionCap runs a stack whose components serve one streaming session
// at a time: with one exec open, the next is refused by the first hop,
// the apiserver, with 429 and Retry-After: 1, and each client says so.
func TestSessionCap(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{MaxStreamingSessions: 1})
	startSleeper(t, s, kubectlNoWS, "987400")

	const message = "too many streaming sessions: the apiserver serves at most 1 at once"
	resp, body := upgradeRequest(t, s, "demo/exec?command=true&stdout=true")
	var st metav1.Status
	if err := json.Unmarshal(body, &st); err != nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" ||
		st.Reason != metav1.StatusReasonTooManyRequests || st.Message != message || st.Details == nil || st.Details.RetryAfterSeconds != 1 {
		t.Errorf("SPDY upgrade: %s, Retry-After %q, %s; want 429, 1 and a TooManyRequests Status", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	for _, c := range []client{kubectlNoWS, kubectlLatest} {
		if r := c.run(t, s, nil, "exec", "demo", "--", "true"); r.code != 1 || r.stderr != "Error from server (TooManyRequests): "+message+"\n" {
			t.Errorf("%s: exit %d, stderr %q", c.name, r.code, r.stderr)
		}
	}
}

// TestIdleTimeout runs a runtime whose streaming server closes a session
// on which nothing has moved for 2 s: the semantics of the kubelet's
// --streaming-connection-idle-timeout, which today only the runtime's
// server implements (containerd's stream_idle_timeout, 4h by default). A
// session that prints every 200 ms for 3 s runs to its end; a silent one
// is closed, its client done, its command hung up. (client-go pings SPDY
// connections every 5 s and any frame is activity, so a longer timeout
// would never fire on kubectl's sessions.)
func TestIdleTimeout(t *testing.T) {
	skipOn(t, containerdRuntime, "the idle timeout is containerd's own configuration (stream_idle_timeout)")
	t.Parallel()
	s := newStack(t, execlabtest.Options{StreamIdleTimeout: 2 * time.Second})
	r := kubectlNoWS.run(t, s, nil, "exec", "demo", "--", "sh", "-c", "for i in $(seq 15); do echo $i; sleep 0.2; done")
	if want := "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n"; r.code != 0 || r.stdout != want {
		t.Errorf("busy session: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	cmd := startSleeper(t, s, kubectlNoWS, "987600")
	if err := exitsWithin(t, cmd, 30*time.Second); err != nil {
		t.Errorf("idle session: kubectl %v, want a clean end (the server closed the connection)", err)
	}
	if !waitUntil(10*time.Second, func() bool { return len(processesRunning("sleep", "987600")) == 0 }) {
		t.Error("the idle session's command still runs")
	}
}
