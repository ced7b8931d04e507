package faults

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gwebsocket "github.com/gorilla/websocket"
	v1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// The connection's faults are tested here on servers and clients of the
// libraries the exec path uses (k8s.io/streaming's SPDY and WebSocket
// servers, spdystream and gorilla/websocket clients): a server writes ten
// 100-byte frames of stdout, and the client counts what arrives.
const (
	frameCount = 10
	frameSize  = 100
)

// writeErrorTest answers as a hop without a format of its own.
func writeErrorTest(w http.ResponseWriter, _ *http.Request, err error) {
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func serve(t *testing.T, fault string, inner http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(Wrap(Streaming, Set{MustParse(fault)}, "exec", inner, writeErrorTest))
	t.Cleanup(srv.Close)
	return srv
}

// spdyServer accepts the client's stdout stream, writes the frames on it
// and waits for the client to go.
func spdyServer() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		streams := make(chan httpstream.Stream, 4)
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(st httpstream.Stream, _ <-chan struct{}) error {
			streams <- st
			return nil
		})
		if conn == nil {
			return
		}
		defer conn.Close()
		for st := range streams {
			if st.Headers().Get(v1.StreamType) != v1.StreamTypeStdout {
				continue
			}
			for range frameCount {
				if _, err := st.Write(bytes.Repeat([]byte("o"), frameSize)); err != nil {
					return
				}
			}
			st.Close()
			<-conn.CloseChan()
			return
		}
	})
}

// spdyStdout connects as a client, opens an error and a stdout stream
// (the error stream first, as client-go does) and reads stdout until it
// ends or, if stall, until it has been quiet for half a second.
func spdyStdout(t *testing.T, url string, stall bool) (int, time.Duration) {
	t.Helper()
	rt, err := spdy.NewRoundTripper(nil)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, url, nil)
	req.Header.Set(httpstream.HeaderConnection, httpstream.HeaderUpgrade)
	req.Header.Set(httpstream.HeaderUpgrade, spdy.HeaderSpdy31)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := rt.NewConnection(resp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var stdout httpstream.Stream
	for _, typ := range []string{v1.StreamTypeError, v1.StreamTypeStdout} {
		h := http.Header{}
		h.Set(v1.StreamType, typ)
		if stdout, err = conn.CreateStream(h); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	got := readUntilQuiet(stdout, stall)
	return got, time.Since(start)
}

// readUntilQuiet reads r to its end or, if quiet, until nothing came for
// half a second.
func readUntilQuiet(r io.Reader, quiet bool) int {
	n := make(chan int)
	go func() {
		var total int
		buf := make([]byte, 4096)
		for {
			k, err := r.Read(buf)
			total += k
			if err != nil {
				n <- -total - 1
				return
			}
			n <- total
		}
	}()
	total := 0
	for {
		select {
		case v := <-n:
			if v < 0 {
				return -v - 1
			}
			total = v
		case <-time.After(500 * time.Millisecond):
			if quiet {
				return total
			}
		}
	}
}

func TestSPDYFrames(t *testing.T) {
	for _, tc := range []struct {
		fault string
		want  int
		stall bool
		// slower is a time the frames take at least.
		slower time.Duration
	}{
		{"frame-delay:d=1ms", frameCount * frameSize, false, 0},
		{"frame-delay:d=50ms,stream=stdout", frameCount * frameSize, false, (frameCount - 1) * 50 * time.Millisecond},
		// The stall comes once 200 bytes have passed, as the third frame starts.
		{"stall:stream=stdout,after=200", 200, true, 0},
		{"stall:stream=stderr", frameCount * frameSize, false, 0},
		// The cut comes at the end of the frame that reached 250 bytes.
		{"close-after:bytes=250,stream=stdout", 300, false, 0},
		{"reset-after:bytes=1,stream=stdout", frameSize, false, 0},
		{"close-after:bytes=250,stream=stderr", frameCount * frameSize, false, 0},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			srv := serve(t, tc.fault, spdyServer())
			got, took := spdyStdout(t, srv.URL, tc.stall)
			if got != tc.want || took < tc.slower {
				t.Errorf("%d bytes of stdout in %v; want %d, in %v or more", got, took, tc.want, tc.slower)
			}
		})
	}
}

// wsServer serves remotecommand's channels over WebSocket (v4) with
// k8s.io/streaming's wsstream, writes the frames on stdout and reads stdin
// to its end, returning how much came on got.
func wsServer(got chan<- int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
			"v4.channel.k8s.io": {Binary: true, Channels: []wsstream.ChannelType{
				wsstream.ReadChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.ReadChannel}},
		})
		_, channels, err := conn.Open(w, r)
		if err != nil {
			return
		}
		defer conn.Close()
		stdinDone := make(chan struct{})
		go func() {
			n, _ := io.Copy(io.Discard, channels[0])
			got <- int(n)
			close(stdinDone)
		}()
		for range frameCount {
			if _, err := channels[1].Write(bytes.Repeat([]byte("o"), frameSize)); err != nil {
				return
			}
		}
		// Until the client goes, or the fault cut the connection.
		select {
		case <-stdinDone:
		case <-time.After(5 * time.Second):
		}
	})
}

// wsDial connects with gorilla/websocket, as client-go does.
func wsDial(t *testing.T, url string) *gwebsocket.Conn {
	t.Helper()
	d := gwebsocket.Dialer{Subprotocols: []string{"v4.channel.k8s.io"}}
	conn, _, err := d.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// wsStdout reads stdout messages until the connection ends or, within a
// second, goes quiet; it returns the bytes and the error that ended it.
func wsStdout(conn *gwebsocket.Conn) (int, error) {
	var n int
	for {
		conn.SetReadDeadline(time.Now().Add(time.Second))
		_, msg, err := conn.ReadMessage()
		if err != nil {
			return n, err
		}
		if len(msg) > 0 && msg[0] == 1 {
			n += len(msg) - 1
		}
	}
}

func TestWebSocketFrames(t *testing.T) {
	for _, tc := range []struct {
		fault string
		want  int
		// end says how the read ended: a timeout (quiet), EOF, a reset.
		end string
	}{
		{"frame-delay:d=1ms,stream=stdout", frameCount * frameSize, "timeout"},
		{"stall:stream=stdout,after=300", 300, "timeout"},
		{"close-after:bytes=250,stream=stdout", 300, "EOF"},
		{"reset-after:bytes=250,stream=stdout", 300, "reset"},
		{"close-after:bytes=0", 0, "EOF"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			srv := serve(t, tc.fault, wsServer(make(chan int, 1)))
			got, err := wsStdout(wsDial(t, srv.URL))
			if got != tc.want || !strings.Contains(endOf(err), tc.end) {
				t.Errorf("%d bytes of stdout, then %v; want %d, then %s", got, err, tc.want, tc.end)
			}
		})
	}
}

func endOf(err error) string {
	var timeout interface{ Timeout() bool }
	switch {
	case errors.As(err, &timeout) && timeout.Timeout():
		return "timeout"
	case strings.Contains(err.Error(), "reset by peer"):
		return "reset"
	case strings.Contains(err.Error(), "EOF"):
		return "EOF"
	}
	return err.Error()
}

// TestWebSocketStdin cuts the connection after the stdin the client sent:
// masked frames, from the client.
func TestWebSocketStdin(t *testing.T) {
	got := make(chan int, 1)
	srv := serve(t, "close-after:bytes=150,stream=stdin", wsServer(got))
	conn := wsDial(t, srv.URL)
	for range frameCount {
		if err := conn.WriteMessage(gwebsocket.BinaryMessage, append([]byte{0}, bytes.Repeat([]byte("i"), frameSize)...)); err != nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := <-got; n != 2*frameSize {
		t.Errorf("the server read %d bytes of stdin; want %d, up to the end of the frame that reached 150", n, 2*frameSize)
	}
}

func TestUpgradeFaults(t *testing.T) {
	var seen http.Header
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = r.Header.Clone()
		w.WriteHeader(http.StatusTeapot)
	})
	upgrade := func(transport string, protocols ...string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/exec/x", nil)
		header := httpstream.HeaderProtocolVersion
		if transport == "websocket" {
			r.Header.Set("Upgrade", "websocket")
			header = "Sec-WebSocket-Protocol"
		} else {
			r.Header.Set("Upgrade", spdy.HeaderSpdy31)
		}
		for _, p := range protocols {
			r.Header.Add(header, p)
		}
		return r
	}
	for _, tc := range []struct {
		fault string
		req   *http.Request
		code  int
		body  string
		// offered is what the inner handler saw offered.
		offered string
	}{
		{"refuse-upgrade:status=418,body=no tea", upgrade("spdy", "v4.channel.k8s.io"), 418, "no tea", ""},
		{"refuse-upgrade:transport=websocket", upgrade("spdy", "v4.channel.k8s.io"), 418, "", "v4.channel.k8s.io"},
		{"refuse-upgrade:transport=websocket", upgrade("websocket", "v5.channel.k8s.io"), 500, refusalMessage, ""},
		{"protocols:spdy=v4.channel.k8s.io", upgrade("spdy", "v5.channel.k8s.io", "v4.channel.k8s.io"), 418, "", "v4.channel.k8s.io"},
		{"protocols:spdy=v3.channel.k8s.io", upgrade("spdy", "v5.channel.k8s.io, v4.channel.k8s.io"), 403,
			"unable to negotiate protocol: client supports [v5.channel.k8s.io v4.channel.k8s.io], server accepts [v3.channel.k8s.io]", ""},
		{"protocols:websocket=", upgrade("websocket", "v5.channel.k8s.io"), 500, "server accepts []", ""},
		{"protocols:websocket=v4.channel.k8s.io", upgrade("websocket", "v5.channel.k8s.io", "v4.channel.k8s.io"), 418, "", "v4.channel.k8s.io"},
		{"protocols:websocket=v4.channel.k8s.io", upgrade("spdy", "v5.channel.k8s.io"), 418, "", "v5.channel.k8s.io"},
		{"upgrade-delay:d=1ms,session=attach", upgrade("spdy", "v4.channel.k8s.io"), 418, "", "v4.channel.k8s.io"},
	} {
		seen = nil
		w := httptest.NewRecorder()
		Wrap(Streaming, Set{MustParse(tc.fault)}, "exec", inner, writeErrorTest).ServeHTTP(w, tc.req)
		offered := strings.Join(append(seen.Values(httpstream.HeaderProtocolVersion), seen.Values("Sec-WebSocket-Protocol")...), ",")
		if w.Code != tc.code || !strings.Contains(w.Body.String(), tc.body) || offered != tc.offered {
			t.Errorf("%s, %s %v: %d %q, offered %q; want %d %q, offered %q", tc.fault, tc.req.Header.Get("Upgrade"),
				tc.req.Header, w.Code, w.Body.String(), offered, tc.code, tc.body, tc.offered)
		}
	}

	start := time.Now()
	w := httptest.NewRecorder()
	Wrap(Kubelet, Set{MustParse("upgrade-delay:d=200ms")}, "exec", inner, writeErrorTest).ServeHTTP(w, upgrade("spdy", "v4.channel.k8s.io"))
	if took := time.Since(start); w.Code != http.StatusTeapot || took < 200*time.Millisecond {
		t.Errorf("upgrade-delay: %d after %v", w.Code, took)
	}
}

// TestNoFaultsNoCost: without faults of its own, a hop keeps its handler
// and the runtime has no interceptor.
func TestNoFaultsNoCost(t *testing.T) {
	inner := &plainHandler{}
	for _, s := range []Set{nil, {MustParse("close-after:session=attach")}, {MustParse("cri-error")}, {MustParse("token-expiry")}} {
		if h := Wrap(Kubelet, s, "exec", inner, writeErrorTest); h != http.Handler(inner) {
			t.Errorf("Wrap(Kubelet, %v) for an exec is not the handler itself: the data path would pay", s)
		}
	}
	if UnaryInterceptor(Set{MustParse("upgrade-delay")}) != nil {
		t.Error("an interceptor for faults none of which is the runtime's")
	}
}

type plainHandler struct{}

func (*plainHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}
