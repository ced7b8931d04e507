package server

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// roundTrip sends one request over a connection of runtimeTransport to a
// server running handler, and returns everything the connection yields.
func roundTrip(t *testing.T, handler http.HandlerFunc) string {
	t.Helper()
	srv := httptest.NewServer(handler)
	defer srv.Close()
	conn, err := dialStreaming(context.Background(), "tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "POST /exec/AAAAAAAA HTTP/1.1\r\nHost: runtime\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n")
	out, _ := io.ReadAll(conn)
	return string(out)
}

func TestRefusalInTextBecomesStatus(t *testing.T) {
	// What upstream's streaming server sends for a protocol it does not
	// speak: httpstream.Handshake's http.Error, then its caller's.
	refusal := "unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io], server accepts [v4.channel.k8s.io]"
	got := roundTrip(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, refusal, http.StatusForbidden)
		io.WriteString(w, refusal+"\n")
	})
	resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(got)), nil)
	if err != nil {
		t.Fatalf("%v in %q", err, got)
	}
	body, _ := io.ReadAll(resp.Body)
	want := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"` + refusal + `","reason":"Forbidden","code":403}` + "\n"
	if resp.StatusCode != http.StatusForbidden || resp.Header.Get("Content-Type") != "application/json" || string(body) != want {
		t.Errorf("%d %q %q; want 403 application/json %q", resp.StatusCode, resp.Header.Get("Content-Type"), body, want)
	}
}

func TestUpgradeAndStatusPassUnchanged(t *testing.T) {
	const switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\nframes after the head"
	const status = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unknown, used or expired streaming token","reason":"NotFound","code":404}`
	for name, tc := range map[string]struct {
		handler http.HandlerFunc
		want    string
	}{
		"101 and what follows": {func(w http.ResponseWriter, r *http.Request) {
			conn, _, _ := w.(http.Hijacker).Hijack()
			io.WriteString(conn, switched)
			conn.Close()
		}, switched},
		"a Status": {func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Connection", "close") // so that the test reads to EOF
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, status)
		}, status},
	} {
		t.Run(name, func(t *testing.T) {
			if got := roundTrip(t, tc.handler); !strings.HasSuffix(got, tc.want) {
				t.Errorf("got %q, want it to end in %q", got, tc.want)
			}
		})
	}
}
