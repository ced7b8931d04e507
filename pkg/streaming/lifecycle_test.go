package streaming

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	apiremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// longCommand prints "started" and then runs until killed.
var longCommand = []string{"sh", "-c", "echo started; exec sleep 600"}

// startSPDY starts longCommand over SPDY and returns once it runs.
func startSPDY(t testing.TB, s *Server) (closed <-chan bool, vanish func()) {
	t.Helper()
	conn, streams := spdyStreams(t, execURL(t, s, false, false, true, false, longCommand...),
		apiremotecommand.StreamProtocolV4Name, v1.StreamTypeError, v1.StreamTypeStdout)
	waitFor(t, streams[v1.StreamTypeStdout], "started\n")
	return conn.CloseChan(), func() { conn.Close() }
}

// startWebSocket starts longCommand over WebSocket and returns once it
// runs.
func startWebSocket(t testing.TB, s *Server) *wsClient {
	t.Helper()
	c, _, err := dialWebSocket(t, execURL(t, s, false, false, true, false, longCommand...), "v5.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	var stdout string
	for stdout != "started\n" {
		_, data, err := c.conn.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		stdout += string(data[1:])
	}
	return c
}

// waitFor reads r until it has read want.
func waitFor(t testing.TB, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

// TestClientVanishes: when the client's connection drops mid-session the
// command is killed and every goroutine of the session ends.
func TestClientVanishes(t *testing.T) {
	t.Run("spdy", func(t *testing.T) {
		testutil.CheckGoroutines(t)
		s := newTestServer(t, localRuntime{})
		_, vanish := startSPDY(t, s)
		vanish()
	})
	t.Run("websocket", func(t *testing.T) {
		testutil.CheckGoroutines(t)
		s := newTestServer(t, localRuntime{})
		c := startWebSocket(t, s)
		c.conn.NetConn().Close() // no close frame: gone
	})
}

// TestCloseEndsSessions: Close ends open exec and port-forward sessions
// and waits for them; the clients see their connections end.
func TestCloseEndsSessions(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})

	spdyClosed, _ := startSPDY(t, s)
	ws := startWebSocket(t, s)
	pfConn, pf := spdyPortForward(t, mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"})), echoServer(t), "0")
	if _, err := pf.data.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, pf.data, "ping")
	// A session still waiting for its streams.
	pending, _ := spdyStreams(t, execURL(t, s, false, false, true, false, "true"), apiremotecommand.StreamProtocolV4Name, v1.StreamTypeError)

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-testContext(t).Done():
		t.Fatal("Close did not return")
	}
	for name, ch := range map[string]<-chan bool{"exec": spdyClosed, "port-forward": pfConn.CloseChan(), "pending": pending.CloseChan()} {
		select {
		case <-ch:
		case <-testContext(t).Done():
			t.Errorf("%s connection still open after Close", name)
		}
	}
	if _, _, err := ws.conn.ReadMessage(); err == nil {
		t.Error("WebSocket still open after Close")
	}
	if resp, err := http.Get(s.URL() + "/exec/x"); err == nil {
		resp.Body.Close()
		t.Errorf("server still answers after Close: %s", resp.Status)
	}
}

// TestStreamCreationTimeout: a client that does not create all its
// streams in time loses the connection.
func TestStreamCreationTimeout(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, err := NewServer(Config{StreamCreationTimeout: 100 * time.Millisecond}, localRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	// stdout is granted but never created.
	conn, _ := spdyStreams(t, execURL(t, s, false, false, true, false, "true"), apiremotecommand.StreamProtocolV4Name, v1.StreamTypeError)
	select {
	case <-conn.CloseChan():
	case <-testContext(t).Done():
		t.Fatal("connection still open")
	}
}

// TestUnexpectedStreams: streams the request did not grant, or that the
// protocol version lacks, are refused; the session goes on.
func TestUnexpectedStreams(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	conn, streams := spdyStreams(t, execURL(t, s, false, false, true, false, "echo", "hi"), apiremotecommand.StreamProtocolV2Name, v1.StreamTypeError)
	for _, typ := range []string{v1.StreamTypeStdin, v1.StreamTypeStderr, v1.StreamTypeResize, "bogus"} {
		if _, err := conn.CreateStream(http.Header{v1.StreamType: {typ}}); err == nil {
			t.Errorf("%s stream accepted, want refused", typ)
		}
	}
	stdout, err := conn.CreateStream(http.Header{v1.StreamType: {v1.StreamTypeStdout}})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(stdout)
	status, _ := io.ReadAll(streams[v1.StreamTypeError])
	if string(out) != "hi\n" || len(status) != 0 {
		t.Errorf("got stdout %q, error stream %q; want \"hi\\n\" and nothing", out, status)
	}
}

// TestSPDYBadResize: a malformed size ends resizing, not the session; the
// sizes the client goes on sending are drained.
func TestSPDYBadResize(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	_, streams := spdyStreams(t, execURL(t, s, true, true, true, false, "sh", "-c", "read x; stty size"), apiremotecommand.StreamProtocolV4Name,
		v1.StreamTypeError, v1.StreamTypeStdin, v1.StreamTypeStdout, v1.StreamTypeResize)
	resize := streams[v1.StreamTypeResize]
	if _, err := io.WriteString(resize, `{"Width":`+"\x00}"); err != nil {
		t.Fatal(err)
	}
	for range 100 {
		if _, err := io.WriteString(resize, `{"Width":1,"Height":1}`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.WriteString(streams[v1.StreamTypeStdin], "\n"); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(streams[v1.StreamTypeStdout])
	status, _ := io.ReadAll(streams[v1.StreamTypeError])
	if string(out) != "\r\n24 80\r\n" || string(status) != `{"status":"Success"}` {
		t.Errorf("got stdout %q, status %q; want the echoed newline, the default size and success", out, status)
	}
}

// rawUpgrade sends an upgrade request head to rawURL and returns the
// connection once the server has answered 101, and a reader of what
// follows.
func rawUpgrade(t testing.TB, rawURL, head string) (net.Conn, io.Reader) {
	t.Helper()
	u, _ := url.Parse(rawURL)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(time.Minute))
	if _, err := io.WriteString(conn, "GET "+u.Path+" HTTP/1.1\r\nHost: "+u.Host+"\r\n"+head+"\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", resp, err)
	}
	return conn, br
}

// TestGarbageAfterUpgrade: bytes that are no valid frame end the session.
func TestGarbageAfterUpgrade(t *testing.T) {
	for _, tc := range []struct {
		name, head string
	}{
		{"spdy", "Connection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n"},
		{"websocket", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v5.channel.k8s.io\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			s := newTestServer(t, localRuntime{})
			conn, r := rawUpgrade(t, execURL(t, s, false, true, true, false, "cat"), tc.head)
			// An unknown SPDY version; a WebSocket frame with reserved bits.
			if _, err := conn.Write(bytes.Repeat([]byte{0xff}, 4096)); err != nil {
				t.Fatal(err)
			}
			// The server hangs up: reading ends, after at most a close frame.
			if _, err := io.Copy(io.Discard, r); err != nil {
				t.Fatalf("read: %v, want the server to close", err)
			}
		})
	}
}

// TestIdleTimeout: a session on which nothing moves for StreamIdleTimeout
// is closed and its command killed.
func TestIdleTimeout(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, err := NewServer(Config{StreamIdleTimeout: 200 * time.Millisecond}, localRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()

	spdyClosed, _ := startSPDY(t, s)
	select {
	case <-spdyClosed:
	case <-testContext(t).Done():
		t.Error("idle SPDY session still open")
	}

	ws := startWebSocket(t, s)
	// wsstream opens with an empty message on the first output channel;
	// past it the idle session must only close.
	for first := true; ; first = false {
		_, msg, err := ws.conn.ReadMessage()
		if err != nil {
			break
		}
		if !first || len(msg) != 1 {
			t.Fatalf("idle WebSocket session sent %q, want it closed", msg)
		}
	}
}

// TestMaxSessions: past Config.MaxSessions a request gets 429 with
// Retry-After, and a session that ends makes room again.
func TestMaxSessions(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, err := NewServer(Config{MaxSessions: 1}, localRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()

	_, vanish := startSPDY(t, s)
	resp, body := get(t, http.MethodPost, execURL(t, s, false, true, false, false, "true"))
	want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too many streaming sessions: this server serves at most 1 at once","reason":"TooManyRequests","details":{"retryAfterSeconds":1},"code":429}` + "\n"
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || body != want {
		t.Errorf("second session: %s, Retry-After %q, %s", resp.Status, resp.Header.Get("Retry-After"), body)
	}
	vanish()
	for s.sessions.Active() != 0 {
		select {
		case <-testContext(t).Done():
			t.Fatal("the first session never ended")
		case <-time.After(10 * time.Millisecond):
		}
	}
	closed, vanish := startSPDY(t, s)
	vanish()
	<-closed
}
