package server

import (
	"net/http"
	"strings"
	"testing"
)

// TestRedirectContainerStreaming: with the switch on, exec, attach and
// port-forward answer 302 to the runtime's URL instead of proxying it, and
// the URL is one a client can use; without it nothing redirects (TestExec).
func TestRedirectContainerStreaming(t *testing.T) {
	e := newEnv(t, Options{RedirectContainerStreaming: true}, newTestPod("web"))
	serveStreaming(t, e.host)
	noFollow := &http.Client{
		Transport:     &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	for _, tc := range []struct{ path, location string }{
		{"/exec/default/web/c?command=cat&input=1&output=1", "/exec/"},
		{"/attach/default/web/c?input=1&output=1", "/attach/"},
		{"/portForward/default/web", "/portforward/"},
	} {
		req, err := http.NewRequest(http.MethodPost, e.base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Upgrade", "SPDY/3.1")
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.Contains(loc, tc.location) || strings.HasPrefix(loc, e.base) {
			t.Errorf("%s: %s, Location %q; want 302 to the runtime's %s URL", tc.path, resp.Status, loc, tc.location)
		}
	}
	// client-go's SPDY executor follows the redirect, as kubectl before
	// 1.20 did against such a kubelet.
	out, _, err := e.exec(spdyExecutor, "/exec/default/web/c?command=cat&input=1&output=1&error=1", "followed", false)
	if err != nil || out != "followed" {
		t.Errorf("exec through the redirect: %q, %v", out, err)
	}
	// A WebSocket dialer follows none: the handshake fails.
	_, _, err = e.exec(webSocketExecutor, "/exec/default/web/c?command=cat&input=1&output=1&error=1", "x", false)
	if err == nil || !strings.Contains(err.Error(), "302") {
		t.Errorf("WebSocket exec against a redirect: %v; want a failed handshake with the 302", err)
	}
}
