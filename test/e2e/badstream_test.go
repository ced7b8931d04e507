package e2e

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// Bad input after the upgrade, through every hop: the session survives
// what upstream lets it survive, and ends cleanly on what it cannot.

// readsLine is a command for a TTY session: it answers the first line it
// reads.
const readsLine = "command=sh&command=-c&command=read+line%3B+echo+%22got+%24line%22"

// TestBadResizeSPDY sends a malformed terminal size on the SPDY resize
// stream: as upstream's handleResizeEvents, the server stops reading sizes
// and the session goes on to its end and its Success status.
func TestBadResizeSPDY(t *testing.T) {
	conn, streams := rawSPDYExec(t, shared, "demo/exec?"+readsLine+"&stdin=true&stdout=true&tty=true",
		corev1.StreamTypeError, corev1.StreamTypeStdin, corev1.StreamTypeStdout, corev1.StreamTypeResize)
	defer conn.Close()
	if _, err := io.WriteString(streams[corev1.StreamTypeResize], `{"Width":"wide","Height":40}`); err != nil {
		t.Fatal(err)
	}
	// stdin stays open until the end: a terminal's output may be lost
	// when its input ends first (containerd).
	if _, err := io.WriteString(streams[corev1.StreamTypeStdin], "x\n"); err != nil {
		t.Fatal(err)
	}
	stdout, _ := io.ReadAll(streams[corev1.StreamTypeStdout])
	status, _ := io.ReadAll(streams[corev1.StreamTypeError])
	if !strings.Contains(string(stdout), "got x") || string(status) != `{"metadata":{},"status":"Success"}` && string(status) != `{"status":"Success"}` {
		t.Errorf("stdout %q, error stream %q; want the answer and Success", stdout, status)
	}
	if runtimeName == fakeRuntime && !strings.Contains(shared.Nodes[0].Runtime.Log(), `msg="Ignoring further terminal resizes" logger=streaming err="json: cannot unmarshal string into Go struct field TerminalSize.Width of type uint16"`) {
		t.Errorf("the streaming server did not log the malformed size:\n%s", shared.Nodes[0].Runtime.Log())
	}
}

// TestBadResizeWebSocket is TestBadResizeSPDY over WebSocket v5, in both
// streaming modes: the malformed size on channel 4 reaches the translator
// (the apiserver's, or in passthrough the kubelet's), which stops resizing
// as upstream's does.
func TestBadResizeWebSocket(t *testing.T) {
	for _, mode := range streamingModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			conn := dialAPIServerWebSocket(t, mode.stack, "demo/exec?"+readsLine+"&stdin=true&stdout=true&tty=true")
			defer conn.Close()
			for _, msg := range [][]byte{append([]byte{4}, `{"Width":"wide","Height":40}`...), append([]byte{0}, "x\n"...)} {
				if err := conn.WriteMessage(websocket.BinaryMessage, msg); err != nil {
					t.Fatal(err)
				}
			}
			channels := readChannels(t, conn, false)
			if !strings.Contains(channels[1], "got x") || !strings.Contains(channels[3], `"status":"Success"`) {
				t.Errorf("stdout %q, error channel %q; want the answer and Success", channels[1], channels[3])
			}
		})
	}
}

// TestGarbageAfterWebSocketUpgrade writes bytes that are no WebSocket
// frame (a reserved opcode, unmasked) after the upgrade: the hop that reads
// them closes the connection, in both streaming modes, and the goroutine
// check at the end of the run shows nothing was left behind.
func TestGarbageAfterWebSocketUpgrade(t *testing.T) {
	for _, mode := range streamingModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			conn, br := rawUpgrade(t, mode.stack, "GET", "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n")
			conn.Write([]byte("\x83\x7fthis is not a WebSocket frame\n"))
			conn.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := io.Copy(io.Discard, br); err != nil {
				t.Errorf("the chain did not close the connection: %v", err)
			}
		})
	}
}

// TestTTYWithStderr asks for stderr on a terminal through the chain. The
// kubelet drops stderr, as upstream's remotecommand.NewOptions does, and
// the session runs with the terminal's one output (the runtime, asked
// directly, refuses the pair: TestRuntimeRefusesTTYWithStderr).
func TestTTYWithStderr(t *testing.T) {
	u := shared.RESTConfig().Host + "/api/v1/namespaces/default/pods/demo/exec?command=sh&command=-c&command=echo+out%3B+echo+err+%3E%262&stdout=true&stderr=true&tty=true"
	exec, err := remotecommand.NewSPDYExecutor(shared.RESTConfig(), http.MethodPost, mustParseURL(u))
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr, Tty: true})
	if err != nil || stdout.String() != "out\r\nerr\r\n" || stderr.Len() != 0 {
		t.Errorf("stdout %q, stderr %q, error %v; want both lines on the terminal", stdout.String(), stderr.String(), err)
	}
}

// rawSPDYExec upgrades an exec or attach of s's pods (path such as
// "demo/exec?…") to SPDY v4 through the apiserver and creates the streams
// of the given types, as client-go would but without its checks, so that
// a test can send what client-go never does.
func rawSPDYExec(t *testing.T, s *execlabtest.Stack, path string, types ...string) (httpstream.Connection, map[string]httpstream.Stream) {
	t.Helper()
	config := s.RESTConfig()
	transport, upgrader, err := spdy.RoundTripperFor(config)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, config.Host+"/api/v1/namespaces/default/pods/"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, _, err := spdy.Negotiate(upgrader, &http.Client{Transport: transport}, req, "v4.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	streams := map[string]httpstream.Stream{}
	for _, typ := range types {
		h := http.Header{}
		h.Set(corev1.StreamType, typ)
		st, err := conn.CreateStream(h)
		if err != nil {
			conn.Close()
			t.Fatalf("create %s stream: %v", typ, err)
		}
		streams[typ] = st
	}
	return conn, streams
}

// dialAPIServerWebSocket opens a WebSocket v5 exec or attach of s's pods
// (path such as "demo/exec?…") through the apiserver, as admin.
func dialAPIServerWebSocket(t *testing.T, s *execlabtest.Stack, path string) *websocket.Conn {
	t.Helper()
	config := s.RESTConfig()
	tlsConfig, err := rest.TLSConfigFor(config)
	if err != nil {
		t.Fatal(err)
	}
	dialer := websocket.Dialer{TLSClientConfig: tlsConfig, Subprotocols: []string{"v5.channel.k8s.io"}, HandshakeTimeout: 10 * time.Second}
	u := "wss" + strings.TrimPrefix(config.Host, "https") + "/api/v1/namespaces/default/pods/" + path
	conn, resp, err := dialer.Dial(u, http.Header{"Authorization": {"Bearer " + config.BearerToken}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	return conn
}

// TestStreamingTokens presents tokens that are not, or no longer, good to
// the runtime's streaming server, as a client that found the URL would:
// each gets 404 NotFound before any upgrade, and nothing runs. (Expiry,
// which takes a minute, is TestStreamingServerAlone's.)
func TestStreamingTokens(t *testing.T) {
	rs := criClient(t)
	resp, err := rs.Exec(context.Background(), &runtimeapi.ExecRequest{ContainerId: demoContainerID(t, rs), Cmd: []string{"echo", "once"}, Stdout: true})
	if err != nil {
		t.Fatal(err)
	}
	used := resp.Url
	exec, err := remotecommand.NewSPDYExecutor(&rest.Config{}, http.MethodPost, mustParseURL(used))
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	if err := exec.StreamWithContext(context.Background(), remotecommand.StreamOptions{Stdout: &stdout}); err != nil || stdout.String() != "once\n" {
		t.Fatalf("first use: %q, %v", stdout.String(), err)
	}
	base := used[:strings.LastIndex(used, "/")+1]
	for _, tc := range []struct {
		name, url string
		// body is the answer where it is not tokenNotFound's: "/exec//.."
		// matches no route of containerd's go-restful router at all.
		body map[string]string
	}{
		{name: "reused", url: used},
		{name: "invalid", url: base + "AAAAAAAA"},
		{name: "not base64url", url: base + "%2F%2E%2E", body: map[string]string{containerdRuntime: "404: Page Not Found"}},
		{name: "another kind", url: strings.Replace(base, "/exec/", "/attach/", 1) + used[len(base):]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, tc.url, nil)
			// No idle connection left open, for the goroutine check.
			req.Close = true
			for k, v := range spdyUpgrade {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			want, ok := tc.body[runtimeName]
			if !ok {
				want = tokenNotFound[runtimeName]
			}
			if resp.StatusCode != http.StatusNotFound || string(body) != want {
				t.Errorf("%s: %q, want 404 %q", resp.Status, body, want)
			}
		})
	}
}

// tokenNotFound is how each runtime's streaming server answers a token it
// does not hold: ours with a Status, upstream's (containerd's) with
// http.NotFound's text, the same code either way.
var tokenNotFound = map[string]string{
	fakeRuntime:       `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unknown, used or expired streaming token","reason":"NotFound","code":404}` + "\n",
	containerdRuntime: "404 page not found\n",
}
