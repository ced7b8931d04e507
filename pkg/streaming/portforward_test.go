package streaming

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// TestPortForwardSPDY forwards several connections at once to an echo
// server with client-go's port forwarder.
func TestPortForwardSPDY(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	port := echoServer(t)
	rawURL := mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"}))
	local := testutil.PortForward(t, testutil.SPDYDialer(t, &rest.Config{}, rawURL), port)

	errs := make(chan error, 8)
	for i := range cap(errs) {
		go func() { errs <- testutil.EchoThrough(local, 64<<10+i) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestPortForwardTunnelledSPDY forwards connections with client-go's
// port-forward over WebSocket, which tunnels SPDY in WebSocket
// (SPDY/3.1+portforward.k8s.io), as critest -websocket-portforward does
// straight to a runtime's streaming server.
func TestPortForwardTunnelledSPDY(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	port := echoServer(t)
	u, err := url.Parse(mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"})))
	if err != nil {
		t.Fatal(err)
	}
	dialer, err := portforward.NewSPDYOverWebsocketDialer(u, &rest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	local := testutil.PortForward(t, dialer, port)
	errs := make(chan error, 4)
	for i := range cap(errs) {
		go func() { errs <- testutil.EchoThrough(local, 64<<10+i) }()
	}
	for range cap(errs) {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// TestPortForwardSPDYStreams covers the stream pairing rules: bad headers
// are refused, and a pair left incomplete is dropped with an error.
func TestPortForwardSPDYStreams(t *testing.T) {
	testutil.CheckGoroutines(t)
	s, err := NewServer(Config{StreamCreationTimeout: 100 * time.Millisecond}, localRuntime{})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	conn, _ := spdyStreams(t, mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"})), "portforward.k8s.io")

	for _, h := range []http.Header{
		{v1.StreamType: {v1.StreamTypeData}},
		{v1.StreamType: {v1.StreamTypeData}, v1.PortHeader: {"http"}},
		{v1.StreamType: {v1.StreamTypeData}, v1.PortHeader: {"0"}},
		{v1.StreamType: {v1.StreamTypeData}, v1.PortHeader: {"65536"}},
		{v1.PortHeader: {"80"}},
		{v1.StreamType: {v1.StreamTypeResize}, v1.PortHeader: {"80"}},
	} {
		if _, err := conn.CreateStream(h); err == nil {
			t.Errorf("stream with headers %v accepted, want refused", h)
		}
	}

	h := http.Header{v1.StreamType: {v1.StreamTypeError}, v1.PortHeader: {"80"}, v1.PortForwardRequestIDHeader: {"7"}}
	errorStream, err := conn.CreateStream(h)
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(errorStream)
	if !regexp.MustCompile(`^\(conn=0x[0-9a-f]+, request=7\) timed out waiting for streams$`).Match(msg) {
		t.Errorf("incomplete pair: error stream says %q", msg)
	}
}

// TestPortForwardWebSocket forwards one port over WebSocket, with the
// ports of the CRI request or of the query.
func TestPortForwardWebSocket(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	port := echoServer(t)
	portBytes := string([]byte{byte(port), byte(port >> 8)})

	for _, tc := range []struct {
		name, protocol, query string
		ports                 []int32
	}{
		{"request ports", "v4.channel.k8s.io", "", []int32{int32(port)}},
		{"query ports", "v4.base64.channel.k8s.io", "?port=" + strconv.Itoa(port), nil},
		{"no subprotocol", "", "", []int32{int32(port)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rawURL := mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1", Port: tc.ports}))
			var offer []string
			if tc.protocol != "" {
				offer = []string{tc.protocol}
			}
			c, _, err := dialWebSocket(t, rawURL+tc.query, offer...)
			if err != nil {
				t.Fatal(err)
			}
			c.send(0, "hello")
			got := map[byte]string{}
			for got[0] != portBytes+"hello" {
				typ, data, err := c.conn.ReadMessage()
				if err != nil {
					t.Fatalf("read: %v (so far %q)", err, got)
				}
				if c.base64 != (typ == websocket.TextMessage) {
					t.Fatalf("message type %d with protocol %q", typ, tc.protocol)
				}
				ch, payload := data[0], data[1:]
				if c.base64 {
					ch -= '0'
					payload, _ = base64.StdEncoding.DecodeString(string(payload))
				}
				got[ch] += string(payload)
			}
			if got[1] != portBytes {
				t.Errorf("error channel: %q, want the port only", got[1])
			}
		})
	}

	t.Run("bad query", func(t *testing.T) {
		rawURL := mustURL(s.GetPortForward(context.Background(), &runtimeapi.PortForwardRequest{PodSandboxId: "sandbox1"}))
		_, resp, err := dialWebSocket(t, rawURL+"?port=http", "v4.channel.k8s.io")
		if err == nil {
			t.Fatal("dial succeeded, want 400")
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		const want = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unable to parse \"http\" as a port: strconv.ParseUint: parsing \"http\": invalid syntax","reason":"BadRequest","code":400}` + "\n"
		if resp.StatusCode != http.StatusBadRequest || string(body) != want {
			t.Errorf("got %s %q, want 400 %q", resp.Status, body, want)
		}
	})
}

func TestQueryPorts(t *testing.T) {
	for _, tc := range []struct {
		query string
		ports []int32
		err   string
	}{
		{"port=80", []int32{80}, ""},
		{"port=80,443&port=8080", []int32{80, 443, 8080}, ""},
		{"", nil, `query parameter "port" is required`},
		{"port=", nil, `query parameter "port" cannot be empty`},
		{"port=0", nil, `port "0" must be > 0`},
		{"port=80,", nil, `unable to parse "80," as a port: strconv.ParseUint: parsing "": invalid syntax`},
		{"port=65536", nil, `unable to parse "65536" as a port: strconv.ParseUint: parsing "65536": value out of range`},
	} {
		q, _ := url.ParseQuery(tc.query)
		ports, err := QueryPorts(q)
		if fmt.Sprint(ports) != fmt.Sprint(tc.ports) || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
			t.Errorf("QueryPorts(%q) = %v, %v; want %v, %q", tc.query, ports, err, tc.ports, tc.err)
		}
	}
}
