package apiserver

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/remotecommand"
)

// TestMaxStreamingSessions: past MaxStreamingSessions an exec, attach or
// port-forward gets 429 with Retry-After before the kubelet is asked, and
// a session that ends makes room again.
func TestMaxStreamingSessions(t *testing.T) {
	kubelet := newFakeKubelet(t)
	ts := startServer(t, Options{MaxStreamingSessions: 1})
	ts.createNode(t, "node-1", kubelet.srv.URL)
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	target := ts.url + "/api/v1/namespaces/default/pods/demo/exec?command=cat&stdin=true&stdout=true"

	// One session open: the fake kubelet's exec echoes stdin until it ends.
	exec, err := remotecommand.NewSPDYExecutor(ts.config, "POST", mustURL(t, target))
	if err != nil {
		t.Fatal(err)
	}
	stdin, stdinW := io.Pipe()
	stdoutR, stdout := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout})
		stdout.Close()
	}()
	out := bufio.NewReader(stdoutR)
	if line, err := out.ReadString('\n'); err != nil || line != "demo/main: cat\n" {
		t.Fatalf("first session: %q, %v", line, err)
	}

	kubelet.mu.Lock()
	asked := len(kubelet.requests)
	kubelet.mu.Unlock()
	spdyUpgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v4.channel.k8s.io"}}
	const want = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many streaming sessions: the apiserver serves at most 1 at once","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}` + "\n"
	for _, path := range []string{"demo/exec?command=true&stdout=true", "demo/attach?stdout=true", "demo/portforward?ports=80"} {
		code, header, body := ts.do(t, "POST", "/api/v1/namespaces/default/pods/"+path, spdyUpgrade, "")
		if code != http.StatusTooManyRequests || header.Get("Retry-After") != "1" || body != want {
			t.Errorf("%s: %d, Retry-After %q, %q; want 429, 1, %q", path, code, header.Get("Retry-After"), body, want)
		}
	}
	kubelet.mu.Lock()
	if n := len(kubelet.requests); n != asked {
		t.Errorf("the kubelet got %d more requests past the bound", n-asked)
	}
	kubelet.mu.Unlock()

	stdinW.Close()
	if err := <-done; err != nil {
		t.Fatalf("first session: %v", err)
	}
	// The client is done once it has the status; the apiserver's proxy
	// lets go of the session a moment later.
	for {
		code, _, _ := ts.do(t, "POST", "/api/v1/namespaces/default/pods/demo/exec?command=true&stdout=true", nil, "")
		if code != http.StatusTooManyRequests {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	var again strings.Builder
	exec, _ = remotecommand.NewSPDYExecutor(ts.config, "POST", mustURL(t, target))
	if err := exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdin: strings.NewReader("again"), Stdout: &again}); err != nil || again.String() != "demo/main: cat\nagain" {
		t.Errorf("after the first session ended: %q, %v", again.String(), err)
	}
}
