package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/testutil"
	"github.com/execlab/execlab/pkg/pki"
)

const prefix = "/tenants/acme/clusters/demo"

// apiserver stands for the upstream: it upgrades any upgrade request to an
// echo, and answers any other with the path and credentials it got.
type apiserver struct {
	mu    sync.Mutex
	paths []string
}

func (a *apiserver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.paths = append(a.paths, r.Method+" "+r.URL.RequestURI())
	a.mu.Unlock()
	if r.Header.Get("Upgrade") == "" {
		fmt.Fprintf(w, "%s as %s", r.URL.RequestURI(), r.Header.Get("Authorization"))
		return
	}
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: %s\r\n\r\n", r.Header.Get("Upgrade"))
	rw.Flush()
	io.Copy(conn, rw)
}

// newGateway serves a gateway of cfg's mode in front of a fake apiserver
// over TLS, and returns its base URL, the apiserver and its URL, and the
// gateway's log.
func newGateway(t *testing.T, cfg Config) (string, *apiserver, string, *testutil.SyncBuffer) {
	t.Helper()
	up := &apiserver{}
	upstream := httptest.NewTLSServer(up)
	t.Cleanup(upstream.Close)
	cfg.Prefix = prefix
	cfg.Upstream, _ = url.Parse(upstream.URL)
	cfg.Transport = upstream.Client().Transport
	log := &testutil.SyncBuffer{}
	cfg.Log = log
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(h)
	t.Cleanup(front.Close)
	return front.URL, up, upstream.URL, log
}

// upgrade sends an upgrade request of kind (websocket, SPDY/3.1) to u and
// returns the answer, and the connection after a 101.
func upgrade(t *testing.T, method, u, kind string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	parsed, _ := url.Parse(u)
	conn, err := net.Dial("tcp", parsed.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\nContent-Length: 0\r\n\r\n", method, parsed.RequestURI(), parsed.Host, kind)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	return resp, conn, r
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProxy(t *testing.T) {
	testutil.CheckGoroutines(t)
	base, up, _, log := newGateway(t, Config{Mode: Proxy})

	req, _ := http.NewRequest(http.MethodGet, base+prefix+"/api/v1/namespaces/default/pods/demo?x=1", nil)
	req.Header.Set("Authorization", "Bearer t0k3n")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != http.StatusOK || got != "/api/v1/namespaces/default/pods/demo?x=1 as Bearer t0k3n" {
		t.Errorf("GET through the gateway: %s %q", resp.Status, got)
	}

	for _, kind := range []string{"websocket", "SPDY/3.1"} {
		resp, conn, r := upgrade(t, http.MethodGet, base+prefix+"/api/v1/namespaces/default/pods/demo/exec?command=date", kind)
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("%s upgrade: %s", kind, resp.Status)
		}
		// Logged as the 101 passed, while the session runs.
		if line := "exec -> 101 from /api/v1/namespaces/default/pods/demo/exec (upgrade: " + kind + ")\n"; !strings.HasSuffix(log.String(), line) {
			t.Errorf("log during the %s session:\n%s\nwant it to end with %q", kind, log.String(), line)
		}
		fmt.Fprint(conn, "ping")
		buf := make([]byte, 4)
		if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ping" {
			t.Errorf("%s echo: %q %v", kind, buf, err)
		}
		conn.Close()
	}

	resp, err = http.Get(base + "/api/v1/pods")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != http.StatusNotFound || !strings.Contains(got, "outside "+prefix) {
		t.Errorf("outside the prefix: %s %q", resp.Status, got)
	}

	up.mu.Lock()
	paths := strings.Join(up.paths, "\n")
	up.mu.Unlock()
	want := "GET /api/v1/namespaces/default/pods/demo?x=1\n" +
		"GET /api/v1/namespaces/default/pods/demo/exec?command=date\n" +
		"GET /api/v1/namespaces/default/pods/demo/exec?command=date"
	if paths != want {
		t.Errorf("the apiserver got:\n%s\nwant:\n%s", paths, want)
	}
	wantLog := "GET " + prefix + "/api/v1/namespaces/default/pods/demo -> 200 from /api/v1/namespaces/default/pods/demo\n" +
		"GET " + prefix + "/api/v1/namespaces/default/pods/demo/exec -> 101 from /api/v1/namespaces/default/pods/demo/exec (upgrade: websocket)\n" +
		"GET " + prefix + "/api/v1/namespaces/default/pods/demo/exec -> 101 from /api/v1/namespaces/default/pods/demo/exec (upgrade: SPDY/3.1)\n" +
		"GET /api/v1/pods -> 404\n"
	if got := log.String(); got != wantLog {
		t.Errorf("log:\n%s\nwant:\n%s", got, wantLog)
	}
}

func TestNoWebSocket(t *testing.T) {
	base, _, _, log := newGateway(t, Config{Mode: NoWebSocket})
	exec := base + prefix + "/api/v1/namespaces/default/pods/demo/exec?command=date"
	resp, _, _ := upgrade(t, http.MethodGet, exec, "websocket")
	if got := body(t, resp); resp.StatusCode != http.StatusForbidden || got != "this gateway refuses WebSocket upgrades\n" {
		t.Errorf("WebSocket: %s %q", resp.Status, got)
	}
	if resp, _, _ := upgrade(t, http.MethodPost, exec, "SPDY/3.1"); resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("SPDY: %s", resp.Status)
	}
	if !waitFor(func() bool { return strings.Contains(log.String(), "-> 403 (WebSocket refused)") }) {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestRedirect(t *testing.T) {
	for _, code := range []int{http.StatusFound, http.StatusTemporaryRedirect} {
		base, _, upstream, log := newGateway(t, Config{Mode: Redirect, RedirectCode: code})
		resp, _, _ := upgrade(t, http.MethodPost, base+prefix+"/api/v1/namespaces/default/pods/demo/exec?command=date", "SPDY/3.1")
		want := upstream + "/api/v1/namespaces/default/pods/demo/exec?command=date"
		if loc := resp.Header.Get("Location"); resp.StatusCode != code || loc != want {
			t.Errorf("redirect %d: %s to %q, want %q", code, resp.Status, loc, want)
		}
		if !waitFor(func() bool { return strings.Contains(log.String(), fmt.Sprintf("-> %d %s", code, want)) }) {
			t.Errorf("log:\n%s", log.String())
		}
	}
}

func TestNewRefuses(t *testing.T) {
	u, _ := url.Parse("https://127.0.0.1:6443")
	for _, cfg := range []Config{
		{Mode: "teleport", Upstream: u},
		{Mode: Redirect, RedirectCode: 200, Upstream: u},
		{Mode: Proxy},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
}

// TestListenAndServe serves HTTPS with a certificate of the cluster PKI, as
// the labs run it, and stops with its context.
func TestListenAndServe(t *testing.T) {
	testutil.CheckGoroutines(t)
	dir := t.TempDir()
	if err := pki.Ensure(dir); err != nil {
		t.Fatal(err)
	}
	up := &apiserver{}
	upstream := httptest.NewTLSServer(up)
	defer upstream.Close()
	u, _ := url.Parse(upstream.URL)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- ListenAndServe(ctx, Options{
			Config:   Config{Mode: Proxy, Prefix: prefix + "/", Upstream: u},
			Listen:   "127.0.0.1:0",
			CertFile: pki.CertFile(dir, pki.APIServer),
			KeyFile:  pki.KeyFile(dir, pki.APIServer),
		}, func(base string) { ready <- base })
	}()
	var base string
	select {
	case base = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "https://127.0.0.1:") || !strings.HasSuffix(base, prefix) {
		t.Errorf("base URL %q", base)
	}
	cas, err := pki.CertPool(dir)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cas}, DisableKeepAlives: true}}
	// The upstream's certificate is httptest's, which no CAFile names: the
	// gateway cannot check it, and says so.
	resp, err := client.Get(base + "/version")
	if err != nil {
		t.Fatal(err)
	}
	if got := body(t, resp); resp.StatusCode != http.StatusBadGateway || !strings.Contains(got, "cannot reach the apiserver") {
		t.Errorf("GET: %s %q", resp.Status, got)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenAndServe: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after its context ended")
	}
}

// waitFor polls cond for up to 5 s: the gateway logs a request once its
// handler has returned, after the client has its answer.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}
