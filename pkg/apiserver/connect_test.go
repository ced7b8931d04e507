package apiserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	utilexec "k8s.io/client-go/util/exec"
)

// streamStack is a server with one node, whose kubelet is a fakeKubelet,
// and a running pod "demo" with container "main".
func streamStack(t *testing.T, mode StreamingMode) (*testServer, *fakeKubelet) {
	t.Helper()
	kubelet := newFakeKubelet(t)
	ts := startServer(t, Options{StreamingMode: mode})
	ts.createNode(t, "node-1", kubelet.srv.URL)
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	return ts, kubelet
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestExecKubeletRequest checks the query rewriting of ExecLocation: the
// client's flags, in any form ParseBool-like conversion takes, become the
// kubelet's input/output/error/tty=1, present only when true; the
// container moves into the path.
func TestExecKubeletRequest(t *testing.T) {
	ts, kubelet := streamStack(t, StreamingTranslate)
	leaks := goroutineBaseline(t)
	cases := []struct {
		query     string
		stdin     bool
		stderr    bool
		tty       bool
		wantQuery string
		wantOut   string
	}{
		{"command=echo&command=hello&container=main&stdout=true&stderr=true", false, true, false,
			"command=echo&command=hello&error=1&output=1", "demo/main: echo hello\n"},
		{"command=echo&command=a+b&stdout=1&stderr=0", false, false, false,
			"command=echo&command=a+b&output=1", "demo/main: echo a b\n"},
		{"command=cat&stdin=True&stdout=TRUE&stderr=False", true, false, false,
			"command=cat&input=1&output=1", "demo/main: cat\nfrom stdin"},
		{"command=sh&stdin=yes&stdout=true&tty=true", true, false, true,
			"command=sh&input=1&output=1&tty=1", "demo/main: sh\r\nfrom stdin"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			exec, err := remotecommand.NewSPDYExecutor(ts.config, "POST", mustURL(t, ts.url+"/api/v1/namespaces/default/pods/demo/exec?"+c.query))
			if err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			opts := remotecommand.StreamOptions{Stdout: &stdout, Tty: c.tty}
			if c.stdin {
				opts.Stdin = strings.NewReader("from stdin")
			}
			if c.stderr {
				opts.Stderr = &stderr
			}
			if err := exec.StreamWithContext(context.Background(), opts); err != nil {
				t.Fatal(err)
			}
			if got := strings.ReplaceAll(stdout.String(), "\r\n", "\n"); got != strings.ReplaceAll(c.wantOut, "\r\n", "\n") {
				t.Errorf("stdout %q, want %q", stdout.String(), c.wantOut)
			}
			req := kubelet.lastRequest(t)
			if req.Method != "POST" || req.URL.Path != "/exec/default/demo/main" || req.URL.RawQuery != c.wantQuery {
				t.Errorf("kubelet got %s %s?%s, want POST /exec/default/demo/main?%s", req.Method, req.URL.Path, req.URL.RawQuery, c.wantQuery)
			}
			if req.Header.Get("Upgrade") != "SPDY/3.1" || req.Header.Get("X-Forwarded-For") != "127.0.0.1" {
				t.Errorf("kubelet got Upgrade %q, X-Forwarded-For %q", req.Header.Get("Upgrade"), req.Header.Get("X-Forwarded-For"))
			}
			if got := strings.Join(req.Header.Values("X-Stream-Protocol-Version"), ","); got != "v5.channel.k8s.io,v4.channel.k8s.io,v3.channel.k8s.io,v2.channel.k8s.io,channel.k8s.io" {
				t.Errorf("kubelet got protocols %s", got)
			}
		})
	}
	leaks()
}

// TestExecExitCode carries a non-zero exit code to the client, over SPDY
// and through the WebSocket translation.
func TestExecExitCode(t *testing.T) {
	ts, _ := streamStack(t, StreamingTranslate)
	leaks := goroutineBaseline(t)
	target := ts.url + "/api/v1/namespaces/default/pods/demo/exec?command=exit&command=3&stdout=true&stderr=true"
	spdyExec, err := remotecommand.NewSPDYExecutor(ts.config, "POST", mustURL(t, target))
	if err != nil {
		t.Fatal(err)
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(ts.config, "GET", target)
	if err != nil {
		t.Fatal(err)
	}
	for name, exec := range map[string]remotecommand.Executor{"spdy": spdyExec, "websocket": wsExec} {
		err := exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: io.Discard, Stderr: io.Discard})
		var exitErr utilexec.CodeExitError
		if !errors.As(err, &exitErr) || exitErr.Code != 3 {
			t.Errorf("%s: error %v, want exit code 3", name, err)
		}
	}
	leaks()
}

// TestExecWebSocket: translate mode re-issues a WebSocket v5 exec to the
// kubelet as SPDY from the apiserver itself; passthrough mode proxies the
// WebSocket upgrade unchanged.
func TestExecWebSocket(t *testing.T) {
	for _, c := range []struct {
		mode                          StreamingMode
		wantMethod, wantUpgrade, want string
	}{
		{StreamingTranslate, "POST", "SPDY/3.1", "demo/main: echo hi\n"},
		{StreamingPassthrough, "GET", "websocket", "websocket: echo hi\n"},
	} {
		t.Run(string(c.mode), func(t *testing.T) {
			ts, kubelet := streamStack(t, c.mode)
			leaks := goroutineBaseline(t)
			exec, err := remotecommand.NewWebSocketExecutor(ts.config, "GET", ts.url+"/api/v1/namespaces/default/pods/demo/exec?command=echo&command=hi&stdout=true&stderr=true")
			if err != nil {
				t.Fatal(err)
			}
			var stdout bytes.Buffer
			if err := exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &stdout, Stderr: io.Discard}); err != nil {
				t.Fatal(err)
			}
			if stdout.String() != c.want {
				t.Errorf("stdout %q, want %q", stdout.String(), c.want)
			}
			req := kubelet.lastRequest(t)
			if req.Method != c.wantMethod || !strings.EqualFold(req.Header.Get("Upgrade"), c.wantUpgrade) ||
				req.URL.Path != "/exec/default/demo/main" || req.URL.RawQuery != "command=echo&command=hi&error=1&output=1" {
				t.Errorf("kubelet got %s %s?%s Upgrade %q", req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Upgrade"))
			}
			if c.mode == StreamingTranslate && req.UserAgent() != "Go-http-client/1.1" {
				t.Errorf("translated request has User-Agent %q, want the apiserver's own", req.UserAgent())
			}
			if c.mode == StreamingPassthrough && req.Header.Get("Sec-WebSocket-Protocol") != "v5.channel.k8s.io" {
				t.Errorf("passed-through request has Sec-WebSocket-Protocol %q", req.Header.Get("Sec-WebSocket-Protocol"))
			}
			leaks()
		})
	}
}

func TestAttach(t *testing.T) {
	ts, kubelet := streamStack(t, StreamingTranslate)
	exec, err := remotecommand.NewSPDYExecutor(ts.config, "POST", mustURL(t, ts.url+"/api/v1/namespaces/default/pods/demo/attach?stdout=true&stderr=true"))
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &stdout, Stderr: io.Discard}); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "attached to demo/main\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	if req := kubelet.lastRequest(t); req.URL.Path != "/attach/default/demo/main" || req.URL.RawQuery != "error=1&output=1" {
		t.Errorf("kubelet got %s?%s", req.URL.Path, req.URL.RawQuery)
	}
}

// TestPortForward forwards a local port to the echoing fake container over
// SPDY and over SPDY tunnelled in WebSocket.
func TestPortForward(t *testing.T) {
	ts, kubelet := streamStack(t, StreamingTranslate)
	target := mustURL(t, ts.url+"/api/v1/namespaces/default/pods/demo/portforward")
	rt, upgrader, err := spdy.RoundTripperFor(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	ws, err := portforward.NewSPDYOverWebsocketDialer(target, ts.config)
	if err != nil {
		t.Fatal(err)
	}
	for name, dialer := range map[string]httpstream.Dialer{
		"spdy":      spdy.NewDialer(upgrader, &http.Client{Transport: rt}, "POST", target),
		"websocket": ws,
	} {
		t.Run(name, func(t *testing.T) {
			leaks := goroutineBaseline(t)
			stop, ready := make(chan struct{}), make(chan struct{})
			fw, err := portforward.New(dialer, []string{"0:80"}, stop, ready, io.Discard, io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- fw.ForwardPorts() }()
			select {
			case <-ready:
			case err := <-done:
				t.Fatalf("forward: %v", err)
			}
			ports, err := fw.GetPorts()
			if err != nil {
				t.Fatal(err)
			}
			conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0].Local))
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			io.WriteString(conn, "ping")
			buf := make([]byte, 4)
			_, err = io.ReadFull(conn, buf)
			conn.Close()
			close(stop)
			if ferr := <-done; ferr != nil {
				t.Errorf("forward: %v", ferr)
			}
			if err != nil || string(buf) != "ping" {
				t.Errorf("echo %q, %v", buf, err)
			}
			if req := kubelet.lastRequest(t); req.Method != "POST" || req.URL.Path != "/portForward/default/demo" || req.URL.RawQuery != "" {
				t.Errorf("kubelet got %s %s?%s", req.Method, req.URL.Path, req.URL.RawQuery)
			}
			leaks()
		})
	}
}

// TestConnectErrors checks each refusal of ExecLocation and friends with
// its upstream code and message.
func TestConnectErrors(t *testing.T) {
	ts, _ := streamStack(t, StreamingTranslate)
	ctx := context.Background()
	ts.createRunningPod(t, "default", "two", "node-1", "a", "b")
	ts.createRunningPod(t, "default", "lost", "ghost", "main")
	if _, err := ts.client.CoreV1().Pods("default").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "pending"},
		Spec:       corev1.PodSpec{SchedulerName: "other", Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A node that lists no address, and one whose kubelet is gone.
	ts.createNode(t, "nowhere", "")
	ts.createRunningPod(t, "default", "homeless", "nowhere", "main")
	down := newFakeKubelet(t)
	ts.createNode(t, "down", down.srv.URL)
	down.srv.Close()
	ts.createRunningPod(t, "default", "stranded", "down", "main")

	spdyUpgrade := http.Header{"Connection": {"Upgrade"}, "Upgrade": {"SPDY/3.1"}, "X-Stream-Protocol-Version": {"v4.channel.k8s.io"}}
	cases := []struct {
		name, method, path string
		header             http.Header
		code               int
		body               string
	}{
		{"unknown pod", "POST", "/api/v1/namespaces/default/pods/x/exec?command=true&stdout=true", spdyUpgrade, 404,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pods \"x\" not found","reason":"NotFound","details":{"name":"x","kind":"pods"},"code":404}`},
		{"unknown container", "POST", "/api/v1/namespaces/default/pods/demo/exec?command=true&stdout=true&container=nope", spdyUpgrade, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"container nope is not valid for pod demo","reason":"BadRequest","code":400}`},
		{"container needed", "POST", "/api/v1/namespaces/default/pods/two/exec?command=true&stdout=true", spdyUpgrade, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a container name must be specified for pod two, choose one of: [a b]","reason":"BadRequest","code":400}`},
		{"attach container needed", "POST", "/api/v1/namespaces/default/pods/two/attach?stdout=true", spdyUpgrade, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"a container name must be specified for pod two, choose one of: [a b]","reason":"BadRequest","code":400}`},
		{"no upgrade", "POST", "/api/v1/namespaces/default/pods/demo/exec?command=true&stdout=true", nil, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Upgrade request required","reason":"BadRequest","code":400}`},
		{"not scheduled", "POST", "/api/v1/namespaces/default/pods/pending/exec?command=true&stdout=true", spdyUpgrade, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"pod pending does not have a host assigned","reason":"BadRequest","code":400}`},
		{"unknown node", "POST", "/api/v1/namespaces/default/pods/lost/exec?command=true&stdout=true", spdyUpgrade, 404,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"nodes \"ghost\" not found","reason":"NotFound","details":{"name":"ghost","kind":"nodes"},"code":404}`},
		{"node without address", "POST", "/api/v1/namespaces/default/pods/homeless/portforward", spdyUpgrade, 500,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"no preferred addresses found; known addresses: []","code":500}`},
		{"wrong method", "PUT", "/api/v1/namespaces/default/pods/demo/exec", nil, 405,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"PUT is not supported on resources of kind \"pods/exec\"","reason":"MethodNotAllowed","details":{"kind":"pods/exec"},"code":405}`},
		{"bad ports", "POST", "/api/v1/namespaces/default/pods/demo/portforward?ports=http", spdyUpgrade, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"cannot convert to []int32: strconv.ParseUint: parsing \"http\": invalid syntax","reason":"BadRequest","code":400}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, header, body := ts.do(t, c.method, c.path, c.header, "")
			if code != c.code || body != c.body+"\n" || header.Get("Content-Type") != "application/json" {
				t.Errorf("got %d %s %q\nwant %d %q", code, header.Get("Content-Type"), body, c.code, c.body+"\n")
			}
		})
	}
	t.Run("kubelet down", func(t *testing.T) {
		code, _, body := ts.do(t, "POST", "/api/v1/namespaces/default/pods/stranded/exec?command=true&stdout=true", spdyUpgrade, "")
		want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"error dialing backend: dial tcp ` + strings.TrimPrefix(down.srv.URL, "http://") + `: connect: connection refused","code":500}` + "\n"
		if code != 500 || body != want {
			t.Errorf("got %d %q\nwant 500 %q", code, body, want)
		}
	})
}
