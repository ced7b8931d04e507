package httpserver

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// TestCloseAllEndsHijackedConnections: a handler that hijacked its
// connection and blocks on it returns once CloseAll closes it, and CloseAll
// waits for it; later requests are refused.
func TestCloseAllEndsHijackedConnections(t *testing.T) {
	var conns Conns
	hijacked := make(chan struct{})
	returned := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(returned)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if got := Record(w).Status(); got != http.StatusSwitchingProtocols {
			t.Errorf("status after hijack = %d, want 101", got)
		}
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		close(hijacked)
		io.Copy(io.Discard, conn) // until CloseAll closes it
	})
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "closing", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(conns.Track(h, refuse))
	defer srv.Close()

	client, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(client), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	<-hijacked

	done := make(chan struct{})
	go func() { conns.CloseAll(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("CloseAll did not return")
	}
	select {
	case <-returned:
	default:
		t.Fatal("CloseAll returned before the handler")
	}

	resp2, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("after CloseAll: %d, want 503", resp2.StatusCode)
	}
}

// TestHijackAfterCloseAll: a handler let in before CloseAll that hijacks
// after it gets an error and its connection is closed.
func TestHijackAfterCloseAll(t *testing.T) {
	var conns Conns
	server, client := net.Pipe()
	defer client.Close()
	rec := &Recorder{ResponseWriter: &hijackable{conn: server}, conns: &conns}
	conns.CloseAll()
	if _, _, err := rec.Hijack(); !errors.Is(err, errClosing) {
		t.Fatalf("Hijack after CloseAll: %v, want %v", err, errClosing)
	}
	if _, err := server.Write([]byte("x")); err == nil {
		t.Error("the hijacked connection was left open")
	}
}

// TestCloseConns: CloseConns closes the hijacked connections and refuses
// later hijacks, but lets handlers in and does not wait for them.
func TestCloseConns(t *testing.T) {
	var conns Conns
	server, client := net.Pipe()
	defer client.Close()
	forget, ok := conns.Add(server)
	if !ok {
		t.Fatal("Add refused before CloseConns")
	}
	defer forget()
	if !conns.Enter() {
		t.Fatal("Enter refused before CloseConns")
	}
	conns.CloseConns() // returns though a handler is in
	if _, err := server.Write([]byte("x")); err == nil {
		t.Error("the tracked connection was left open")
	}
	if !conns.Enter() {
		t.Error("Enter refused after CloseConns")
	}
	conns.Leave()
	conns.Leave()
	late, lateClient := net.Pipe()
	defer lateClient.Close()
	rec := &Recorder{ResponseWriter: &hijackable{conn: late}, conns: &conns}
	if _, _, err := rec.Hijack(); !errors.Is(err, errClosing) {
		t.Errorf("Hijack after CloseConns: %v, want %v", err, errClosing)
	}
}

type hijackable struct {
	http.ResponseWriter
	conn net.Conn
}

func (h *hijackable) Hijack() (net.Conn, *bufio.ReadWriter, error) { return h.conn, nil, nil }

func TestRecorderStatus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(w http.ResponseWriter)
		want  int
	}{
		{"nothing written", func(http.ResponseWriter) {}, 200},
		{"body only", func(w http.ResponseWriter) { io.WriteString(w, "x") }, 200},
		{"first code wins", func(w http.ResponseWriter) { w.WriteHeader(404); w.WriteHeader(500) }, 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := Record(httptest.NewRecorder())
			tc.write(rec)
			if got := rec.Status(); got != tc.want {
				t.Errorf("Status() = %d, want %d", got, tc.want)
			}
			if Record(rec) != rec {
				t.Error("Record of a Recorder wrapped it again")
			}
		})
	}
}

func TestSessionLimit(t *testing.T) {
	l := &SessionLimit{Who: "the kubelet", Max: 2}
	for i := range 2 {
		if err := l.Enter(); err != nil {
			t.Fatalf("session %d refused: %v", i, err)
		}
	}
	err := l.Enter()
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		t.Fatalf("third session: %v, want a 429 Status", err)
	}
	s := st.Status()
	if s.Code != 429 || s.Reason != "TooManyRequests" || s.Details.RetryAfterSeconds != SessionRetryAfter ||
		s.Message != "too many streaming sessions: the kubelet serves at most 2 at once" {
		t.Errorf("refusal = %+v", s)
	}
	l.Leave()
	if err := l.Enter(); err != nil {
		t.Errorf("after Leave: %v", err)
	}
}

func TestPprof(t *testing.T) {
	srv := httptest.NewServer(Pprof())
	defer srv.Close()
	for path, want := range map[string]string{
		"/debug/pprof/":                  "Types of profiles available",
		"/debug/pprof/goroutine?debug=1": "goroutine profile:",
		"/debug/pprof/cmdline":           "",
		"/debug/pprof/symbol":            "num_symbols",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %.80q, want 200 containing %q", path, resp.StatusCode, body, want)
		}
	}
}

// TestWrappedHijackKeepsContext: with WrapHijacked, what the client sends
// still reaches the handler through the wrapper, and the request's context
// still ends when the client goes, as net/http ends it for a read through
// the reader Hijack returns (upstream's StreamTranslatorHandler relies on
// it to end its SPDY session).
func TestWrappedHijackKeepsContext(t *testing.T) {
	var wrappedReads atomic.Int64
	got := make(chan string, 1)
	ended := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := Record(w)
		rec.WrapHijacked(func(c net.Conn) net.Conn { return &countingConn{Conn: c, n: &wrappedReads} })
		conn, rw, err := rec.Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 101 Switching Protocols\r\n\r\n")
		line, _ := rw.ReadString('\n')
		got <- line
		io.Copy(io.Discard, rw) // until the client goes
		select {
		case <-r.Context().Done():
			close(ended)
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// The first line comes with the request head: net/http has buffered it.
	io.WriteString(client, "GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: test\r\n\r\nearly\n")
	if line := <-got; line != "early\n" || wrappedReads.Load() == 0 {
		t.Errorf("read %q, %d bytes through the wrapper", line, wrappedReads.Load())
	}
	client.Close()
	select {
	case <-ended:
	case <-time.After(10 * time.Second):
		t.Fatal("the request's context did not end when the client went")
	}
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}
