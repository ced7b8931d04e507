package streaming

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	apiremotecommand "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport/spdy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	reference "k8s.io/cri-streaming/pkg/streaming"
	refportforward "k8s.io/cri-streaming/pkg/streaming/portforward"
	refremotecommand "k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/execlab/execlab/internal/testutil"
)

// The tests in this file give this server and the reference,
// k8s.io/cri-streaming's, the same input and compare their answers byte
// for byte.

// streamingServer is what both servers offer the CRI side.
type streamingServer interface {
	GetExec(*runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error)
	GetAttach(*runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error)
	GetPortForward(*runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error)
}

// withoutContext is ours with upstream's signatures: the context carries
// only the trace, which the comparison leaves out.
type withoutContext struct{ s *Server }

func (w withoutContext) GetExec(r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	return w.s.GetExec(context.Background(), r)
}

func (w withoutContext) GetAttach(r *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	return w.s.GetAttach(context.Background(), r)
}

func (w withoutContext) GetPortForward(r *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	return w.s.GetPortForward(context.Background(), r)
}

// referenceRuntime adapts a Runtime to cri-streaming's interface.
type referenceRuntime struct{ rt Runtime }

func (a referenceRuntime) Exec(ctx context.Context, id string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan refremotecommand.TerminalSize) error {
	return a.rt.Exec(ctx, id, cmd, Streams{Stdin: in, Stdout: out, Stderr: errOut, TTY: tty, Resize: convertSizes(resize)})
}

func (a referenceRuntime) Attach(ctx context.Context, id string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan refremotecommand.TerminalSize) error {
	return a.rt.Attach(ctx, id, Streams{Stdin: in, Stdout: out, Stderr: errOut, TTY: tty, Resize: convertSizes(resize)})
}

func (a referenceRuntime) PortForward(ctx context.Context, sandboxID string, port int32, stream io.ReadWriteCloser) error {
	return a.rt.PortForward(ctx, sandboxID, port, stream)
}

func convertSizes(in <-chan refremotecommand.TerminalSize) <-chan TerminalSize {
	if in == nil {
		return nil
	}
	out := make(chan TerminalSize)
	go func() {
		defer close(out)
		for size := range in {
			out <- TerminalSize(size)
		}
	}()
	return out
}

// newReferenceServer serves cri-streaming's server for localRuntime. It
// accepts the same SPDY protocol list as this server so that refusals list
// the same versions; no test offers it v5, which it cannot serve.
func newReferenceServer(t testing.TB) streamingServer {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ref, err := reference.NewServer(reference.Config{
		Addr:                            ts.Listener.Addr().String(),
		BaseURL:                         &url.URL{Scheme: "http", Host: ts.Listener.Addr().String()},
		StreamIdleTimeout:               4 * time.Hour,
		StreamCreationTimeout:           30 * time.Second,
		SupportedRemoteCommandProtocols: protocolNames(spdyProtocols),
		SupportedPortForwardProtocols:   refportforward.SupportedProtocols,
	}, referenceRuntime{localRuntime{}})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = ref
	ts.Start()
	t.Cleanup(ts.Close)
	return ref
}

// compare runs fn against this server and the reference and fails unless
// both answer the same; want, if not empty, is the expected answer.
func compare(t *testing.T, ours, ref streamingServer, want string, fn func(streamingServer) string) {
	t.Helper()
	got, refGot := fn(ours), fn(ref)
	if got != refGot {
		t.Errorf("answers differ:\n  ours:      %q\n  reference: %q", got, refGot)
	}
	if want != "" && got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// mustURL returns the URL of a Get* answer that cannot fail.
func mustURL[T interface{ GetUrl() string }](resp T, err error) string {
	if err != nil {
		panic(err)
	}
	return resp.GetUrl()
}

var dateHeader = regexp.MustCompile(`(?m)^Date: .*\r\n`)

// rawExchange sends request (a request head without Host, which it adds)
// to rawURL's server and returns all it answers until it closes, without
// the Date header.
func rawExchange(t testing.TB, rawURL, request string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute))
	request = strings.Replace(request, "\r\n", "\r\nHost: "+u.Host+"\r\n", 1)
	request = strings.ReplaceAll(request, "{path}", u.Path)
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	answer, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	return dateHeader.ReplaceAllString(string(answer), "")
}

// TestReferenceHandshake compares the answers to upgrades that fail: the
// same status line, headers and message; the message is in a Status here
// and plain text upstream.
func TestReferenceHandshake(t *testing.T) {
	testutil.CheckGoroutines(t)
	ours, ref := newTestServer(t, localRuntime{}), newReferenceServer(t)
	execReq := &runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"true"}, Stdout: true}
	for _, tc := range []struct {
		name, request, want string
	}{
		{"no protocol header",
			"POST {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
			"HTTP/1.1 400 Bad Request\r\n" +
				"unable to upgrade: header X-Stream-Protocol-Version does not exist in request with 2 headers"},
		{"empty protocol header",
			"POST {path} HTTP/1.1\r\nConnection: close\r\nX-Stream-Protocol-Version: , ,\r\n\r\n", ""},
		{"unknown protocol",
			"POST {path} HTTP/1.1\r\nConnection: close\r\nX-Stream-Protocol-Version: v9.channel.k8s.io\r\n\r\n",
			"HTTP/1.1 403 Forbidden\r\nX-Accepted-Stream-Protocol-Versions: v5.channel.k8s.io\r\n" +
				"X-Accepted-Stream-Protocol-Versions: v4.channel.k8s.io\r\nX-Accepted-Stream-Protocol-Versions: v3.channel.k8s.io\r\n" +
				"X-Accepted-Stream-Protocol-Versions: v2.channel.k8s.io\r\nX-Accepted-Stream-Protocol-Versions: channel.k8s.io\r\n" +
				"unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts [v5.channel.k8s.io v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]"},
		{"no upgrade headers",
			"POST {path} HTTP/1.1\r\nConnection: close\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n", ""},
		{"websocket unknown subprotocol",
			"GET {path} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v9.channel.k8s.io\r\n\r\n",
			"HTTP/1.1 403 Forbidden\r\n"},
		{"websocket POST",
			"POST {path} HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: v4.channel.k8s.io\r\n\r\n",
			"HTTP/1.1 405 Method Not Allowed\r\nbad method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			compare(t, withoutContext{ours}, ref, tc.want, func(s streamingServer) string {
				return refusal(rawExchange(t, mustURL(s.GetExec(execReq)), tc.request))
			})
		})
	}
}

// refusal reduces a raw HTTP answer to its status line, its
// X-Accepted-Stream-Protocol-Versions headers and its message: a Status's
// message, or a plain-text body.
func refusal(raw string) string {
	head, body, _ := strings.Cut(raw, "\r\n\r\n")
	lines := strings.Split(head, "\r\n")
	out := lines[0] + "\r\n"
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "X-Accepted-Stream-Protocol-Versions:") {
			out += l + "\r\n"
		}
	}
	var st metav1.Status
	if json.Unmarshal([]byte(body), &st) == nil && st.Kind == "Status" {
		return out + st.Message
	}
	return out + strings.TrimSpace(body)
}

// spdyStreams dials rawURL over SPDY with protocol, creates streams of the
// given types and returns them by type.
func spdyStreams(t testing.TB, rawURL, protocol string, types ...string) (httpstream.Connection, map[string]httpstream.Stream) {
	t.Helper()
	transport, upgrader, err := spdy.RoundTripperFor(&rest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	conn, negotiated, err := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, u).Dial(protocol)
	if err != nil || negotiated != protocol {
		t.Fatalf("dial %s: negotiated %q, %v", protocol, negotiated, err)
	}
	t.Cleanup(func() { conn.Close() })
	context.AfterFunc(testContext(t), func() { conn.Close() }) // a hung test fails instead
	streams := make(map[string]httpstream.Stream)
	for _, typ := range types {
		st, err := conn.CreateStream(http.Header{v1.StreamType: {typ}})
		if err != nil {
			t.Fatalf("create %s stream: %v", typ, err)
		}
		streams[typ] = st
	}
	return conn, streams
}

// errorStreamOf runs one SPDY exec or attach session with stdout and
// returns what its error stream carried.
func errorStreamOf(t testing.TB, rawURL, protocol string) string {
	t.Helper()
	_, streams := spdyStreams(t, rawURL, protocol, v1.StreamTypeError, v1.StreamTypeStdout)
	go io.Copy(io.Discard, streams[v1.StreamTypeStdout])
	payload, err := io.ReadAll(streams[v1.StreamTypeError])
	if err != nil {
		t.Fatalf("read error stream: %v", err)
	}
	return string(payload)
}

// TestReferenceErrorStream compares how each version reports a success,
// an exit code and runtime failures on the error stream.
func TestReferenceErrorStream(t *testing.T) {
	testutil.CheckGoroutines(t)
	ours, ref := newTestServer(t, localRuntime{}), newReferenceServer(t)
	exec := func(cmd ...string) func(streamingServer) string {
		return func(s streamingServer) string {
			return mustURL(s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: cmd, Stdout: true}))
		}
	}
	attachBroken := func(s streamingServer) string {
		return mustURL(s.GetAttach(&runtimeapi.AttachRequest{ContainerId: "broken", Stdout: true}))
	}
	notFound := "fork/exec /nonexistent: no such file or directory"
	for _, tc := range []struct {
		name     string
		url      func(streamingServer) string
		v4, v2v3 string
	}{
		{"success", exec("true"), `{"status":"Success"}`, ""},
		{"exit 3", exec("sh", "-c", "exit 3"), exitStatusJSON, exitStatusText},
		{"exec failure", exec("/nonexistent"),
			`{"status":"Failure","message":"Internal error occurred: error executing command in container: ` + notFound + `","reason":"InternalError","code":500}`,
			"Internal error occurred: error executing command in container: " + notFound},
		{"attach failure", attachBroken,
			`{"status":"Failure","message":"Internal error occurred: error attaching to container: container is not running","reason":"InternalError","code":500}`,
			"Internal error occurred: error attaching to container: container is not running"},
	} {
		for _, p := range []struct{ protocol, want string }{
			{apiremotecommand.StreamProtocolV4Name, tc.v4},
			{apiremotecommand.StreamProtocolV3Name, tc.v2v3},
			{apiremotecommand.StreamProtocolV2Name, tc.v2v3},
			{apiremotecommand.StreamProtocolV1Name, ""}, // reset before the end
		} {
			t.Run(tc.name+"/"+p.protocol, func(t *testing.T) {
				compare(t, withoutContext{ours}, ref, p.want, func(s streamingServer) string {
					return errorStreamOf(t, tc.url(s), p.protocol)
				})
			})
		}
	}
}

// TestReferenceWebSocket compares every message of WebSocket sessions.
func TestReferenceWebSocket(t *testing.T) {
	testutil.CheckGoroutines(t)
	ours, ref := newTestServer(t, localRuntime{}), newReferenceServer(t)
	for _, protocol := range []string{"", "channel.k8s.io", "base64.channel.k8s.io", "v4.channel.k8s.io", "v4.base64.channel.k8s.io"} {
		for _, cmd := range []string{"echo out", "echo err >&2; exit 3"} {
			t.Run(protocol+"/"+cmd, func(t *testing.T) {
				compare(t, withoutContext{ours}, ref, "", func(s streamingServer) string {
					url := mustURL(s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"sh", "-c", cmd}, Stdout: true, Stderr: true}))
					var offer []string
					if protocol != "" {
						offer = []string{protocol}
					}
					c, _, err := dialWebSocket(t, url, offer...)
					if err != nil {
						t.Fatal(err)
					}
					msgs, _ := c.readAll()
					return fmt.Sprint(msgs)
				})
			})
		}
	}
}

// TestReferencePortForwardError compares the error of a forward to a
// closed port, over SPDY and WebSocket.
func TestReferencePortForwardError(t *testing.T) {
	testutil.CheckGoroutines(t)
	ours, ref := newTestServer(t, localRuntime{}), newReferenceServer(t)
	port := closedPort(t)
	want := fmt.Sprintf("error forwarding port %d to pod sandbox1, uid : dial tcp 127.0.0.1:%d: connect: connection refused", port, port)

	t.Run("spdy", func(t *testing.T) {
		compare(t, withoutContext{ours}, ref, want, func(s streamingServer) string {
			url := mustURL(s.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"}))
			conn, _ := spdyStreams(t, url, "portforward.k8s.io")
			h := http.Header{}
			h.Set(v1.PortHeader, strconv.Itoa(port))
			h.Set(v1.PortForwardRequestIDHeader, "0")
			h.Set(v1.StreamType, v1.StreamTypeError)
			errorStream, err := conn.CreateStream(h)
			if err != nil {
				t.Fatal(err)
			}
			// The reference may reset the data stream before it replies
			// to it (this server waits for the reply): ignore that error.
			h.Set(v1.StreamType, v1.StreamTypeData)
			_, _ = conn.CreateStream(h)
			payload, err := io.ReadAll(errorStream)
			if err != nil {
				t.Fatal(err)
			}
			return string(payload)
		})
	})

	t.Run("websocket", func(t *testing.T) {
		portBytes := string([]byte{byte(port), byte(port >> 8)})
		compare(t, withoutContext{ours}, ref, "", func(s streamingServer) string {
			url := mustURL(s.GetPortForward(&runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1", Port: []int32{int32(port)}}))
			c, _, err := dialWebSocket(t, url, "v4.channel.k8s.io")
			if err != nil {
				t.Fatal(err)
			}
			msgs, channels := c.readAll()
			if channels[0] != portBytes || channels[1] != portBytes+want {
				t.Errorf("got data %q, error %q; want %q, %q", channels[0], channels[1], portBytes, portBytes+want)
			}
			return fmt.Sprint(msgs)
		})
	})
}

// TestReferenceNotFound: both answer 404 to a token they do not know; the
// body is a Status here, upstream's text there.
func TestReferenceNotFound(t *testing.T) {
	testutil.CheckGoroutines(t)
	ours, ref := newTestServer(t, localRuntime{}), newReferenceServer(t)
	compare(t, withoutContext{ours}, ref, "404", func(s streamingServer) string {
		url := mustURL(s.GetExec(&runtimeapi.ExecRequest{ContainerId: "c1", Cmd: []string{"true"}, Stdout: true}))
		resp, _ := get(t, http.MethodPost, url[:strings.LastIndex(url, "/")]+"/AAAAAAAA")
		return strconv.Itoa(resp.StatusCode)
	})
}

// pfStreams are the two streams of one forwarded connection.
type pfStreams struct {
	data, errorStream httpstream.Stream
}

// spdyPortForward opens a portforward.k8s.io connection to rawURL and one
// pair of streams to port, as client-go's portforward does.
func spdyPortForward(t testing.TB, rawURL string, port int, requestID string) (httpstream.Connection, pfStreams) {
	t.Helper()
	conn, _ := spdyStreams(t, rawURL, "portforward.k8s.io")
	h := http.Header{}
	h.Set(v1.PortHeader, strconv.Itoa(port))
	h.Set(v1.PortForwardRequestIDHeader, requestID)
	h.Set(v1.StreamType, v1.StreamTypeError)
	errorStream, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	h.Set(v1.StreamType, v1.StreamTypeData)
	data, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	return conn, pfStreams{data, errorStream}
}
