package server

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// TestMaxStreamingSessions: past MaxStreamingSessions an exec, attach or
// port-forward gets 429 with Retry-After before the host (and so the
// runtime) is asked, and a session that ends makes room again.
func TestMaxStreamingSessions(t *testing.T) {
	e := newEnv(t, Options{MaxStreamingSessions: 1}, newTestPod("web"))
	serveStreaming(t, e.host)

	// One session open: cat echoes until its stdin ends.
	stdinW, stdoutR, done := openCat(t, e.base+"/exec/default/web/c?command=cat&input=1&output=1&error=1")

	execs := len(e.host.callsOf("GetExec"))
	const want = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many streaming sessions: the kubelet serves at most 1 at once","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}` + "\n"
	for _, path := range []string{"/exec/default/web/c?command=cat&output=1", "/attach/default/web/c?output=1", "/portForward/default/web"} {
		resp, err := e.http.Post(e.base+path, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(t, resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || body != want {
			t.Errorf("%s: %s, Retry-After %q, %q; want 429, 1, %q", path, resp.Status, resp.Header.Get("Retry-After"), body, want)
		}
	}
	if n := len(e.host.callsOf("GetExec")); n != execs {
		t.Errorf("the host was asked for %d more execs past the bound", n-execs)
	}

	stdinW.Close()
	if err := <-done; err != nil {
		t.Fatalf("first session: %v", err)
	}
	io.Copy(io.Discard, stdoutR)
	// The client is done once it has the status; the kubelet's proxy
	// lets go of the session a moment later.
	for {
		resp, err := e.http.Post(e.base+"/exec/default/web/c?command=cat", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, _, err := e.exec(spdyExecutor, "/exec/default/web/c?command=cat&input=1&output=1&error=1", "again", false); err != nil || got != "again" {
		t.Errorf("after the first session ended: %q, %v", got, err)
	}
}
