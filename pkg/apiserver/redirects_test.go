package apiserver

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// upgradeEcho is a backend that upgrades any request to "echo" and sends
// back what it reads, noting the method and headers it got.
type upgradeEcho struct {
	mu     sync.Mutex
	method string
	header http.Header
}

func (u *upgradeEcho) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.method, u.header = r.Method, r.Header.Clone()
	u.mu.Unlock()
	conn, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
	rw.Flush()
	io.Copy(conn, rw)
}

// followerFront serves a redirectFollower towards location, as the
// apiserver's session handler does.
func followerFront(t *testing.T, location string) (string, *[]string) {
	t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		t.Fatal(err)
	}
	var followed []string
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := &redirectFollower{location: u, transport: http.DefaultTransport, responder: errorResponder{w, r},
			followed: func(to *url.URL) { followed = append(followed, to.String()) }}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	return front.URL, &followed
}

// upgrade sends an upgrade request to base and returns the answer's status
// line and the connection, or the answer's body when it is no 101.
func upgrade(t *testing.T, base string) (string, net.Conn, *bufio.Reader, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST /exec HTTP/1.1\r\nHost: front\r\nConnection: Upgrade\r\nUpgrade: echo\r\nContent-Length: 0\r\n\r\n")
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.Status, conn, r, ""
	}
	body, _ := io.ReadAll(resp.Body)
	return resp.Status, nil, nil, string(body)
}

func TestRedirectFollower(t *testing.T) {
	echo := &upgradeEcho{}
	streaming := httptest.NewServer(echo)
	defer streaming.Close()
	kubelet := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, streaming.URL+"/exec/token1", http.StatusFound)
	}))
	defer kubelet.Close()

	front, followed := followerFront(t, kubelet.URL+"/exec/default/demo/main")
	status, conn, r, body := upgrade(t, front)
	if conn == nil {
		t.Fatalf("answer %s %s, want 101 from the streaming server", status, body)
	}
	fmt.Fprint(conn, "ping")
	buf := make([]byte, 4)
	if _, err := io.ReadFull(r, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo %q, %v", buf, err)
	}
	echo.mu.Lock()
	method, header := echo.method, echo.header
	echo.mu.Unlock()
	// ConnectWithRedirects: a redirected request is a GET, its headers kept.
	if method != http.MethodGet || header.Get("Upgrade") != "echo" || header.Get("X-Forwarded-For") == "" {
		t.Errorf("the streaming server got %s with %v", method, header)
	}
	if len(*followed) != 1 || (*followed)[0] != streaming.URL+"/exec/token1" {
		t.Errorf("followed %q", *followed)
	}
}

func TestRedirectFollowerRefusals(t *testing.T) {
	var loop *httptest.Server
	loop = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, loop.URL+"/again", http.StatusFound)
	}))
	defer loop.Close()
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, port, _ := net.SplitHostPort(r.Host)
		http.Redirect(w, r, "http://localhost:"+port+"/exec/token", http.StatusFound)
	}))
	defer elsewhere.Close()
	missing := httptest.NewServer(http.NotFoundHandler())
	defer missing.Close()

	for _, tc := range []struct {
		name, kubelet, status, body string
	}{
		{"a loop", loop.URL, "500 Internal Server Error", "too many redirects (10)"},
		{"another host", elsewhere.URL, "500 Internal Server Error", "hostname mismatch: expected 127.0.0.1, found localhost"},
		{"no redirect", missing.URL, "404 Not Found", "404 page not found"},
	} {
		front, _ := followerFront(t, tc.kubelet+"/exec/default/demo/main")
		status, conn, _, body := upgrade(t, front)
		if conn != nil || status != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %s %q, want %s with %q", tc.name, status, body, tc.status, tc.body)
		}
	}

	front, _ := followerFront(t, missing.URL)
	resp, err := http.Post(front+"/exec", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Upgrade request required") {
		t.Errorf("no upgrade: %s %s", resp.Status, body)
	}
}
