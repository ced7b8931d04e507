package minikubectl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apihttpstream "k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/klog/v2"
	streamhttp "k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// TestExecFallback checks kubectl's rule for leaving WebSocket for SPDY
// with --protocol auto: any refusal of the upgrade falls back, a broken
// connection does not.
func TestExecFallback(t *testing.T) {
	withGoroutineCheck(t)
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.useContainer(demoContainer)
	backend := api.upgrade

	const query = "?command=echo&command=hi&container=main&stderr=true&stdout=true"
	get := "GET " + execPath + query + " [v5.channel.k8s.io]"
	post := "POST " + execPath + query
	worked := result{stdout: "hi\n"}

	for _, tc := range []struct {
		name string
		// webSocket answers the WebSocket attempt; SPDY goes to the backend.
		webSocket http.HandlerFunc
		env       string
		calls     []string
		want      result
	}{
		{
			name: "400 with a Status",
			webSocket: func(w http.ResponseWriter, r *http.Request) {
				writeStatus(w, apierrors.NewBadRequest("no WebSocket here"))
			},
			calls: []string{get, post}, want: worked,
		},
		{
			name: "403 with a Status",
			webSocket: func(w http.ResponseWriter, r *http.Request) {
				writeStatus(w, apierrors.NewForbidden(podsResource, "demo", errors.New("no WebSocket for you")))
			},
			calls: []string{get, post}, want: worked,
		},
		{
			name: "200 with a body",
			webSocket: func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, "hello from an old proxy")
			},
			calls: []string{get, post}, want: worked,
		},
		{
			name: "101 with another subprotocol",
			webSocket: func(w http.ResponseWriter, r *http.Request) {
				conn, err := (&websocket.Upgrader{}).Upgrade(w, r, http.Header{"Sec-Websocket-Protocol": {"v4.channel.k8s.io"}})
				if err == nil {
					conn.Close()
				}
			},
			calls: []string{get, post}, want: worked,
		},
		{
			name: "connection closed without an answer",
			webSocket: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					conn.Close()
				}
			},
			calls: []string{get},
			want:  result{stderr: "error: unexpected EOF\n", code: 1},
		},
		{
			name:      "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false",
			webSocket: backend,
			env:       "false",
			calls:     []string{post}, want: worked,
		},
		{
			name:      "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=FALSE",
			webSocket: backend,
			env:       "FALSE",
			calls:     []string{post}, want: worked,
		},
		{
			name:      "KUBECTL_REMOTE_COMMAND_WEBSOCKETS=true",
			webSocket: backend,
			env:       "true",
			calls:     []string{get}, want: worked,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(remoteCommandWebsocketsEnv, tc.env)
			api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
				if wsstream.IsWebSocketRequest(r) {
					tc.webSocket(w, r)
					return
				}
				backend(w, r)
			})
			api.resetCalls()
			if r := api.run(nil, "exec", "demo", "--", "echo", "hi"); r != tc.want {
				t.Errorf("got %+v, want %+v", r, tc.want)
			}
			if calls := api.recorded(); fmt.Sprint(calls) != fmt.Sprint(tc.calls) {
				t.Errorf("requests %q, want %q", calls, tc.calls)
			}
		})
	}
}

// TestExecNoFallback checks that an explicit --protocol websocket reports a
// refused upgrade instead of trying SPDY.
func TestExecNoFallback(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, apierrors.NewBadRequest("no WebSocket here"))
	})
	r := api.run(nil, "--protocol", "websocket", "exec", "demo", "--", "true")
	want := result{stderr: "error: unable to upgrade streaming request: no WebSocket here\n", code: 1}
	if r != want {
		t.Errorf("got %+v, want %+v", r, want)
	}
	if calls := api.recorded(); len(calls) != 1 || !strings.HasPrefix(calls[0], "GET ") {
		t.Errorf("requests %q, want one GET", calls)
	}
}

// TestFallbackLogged checks that -v=4 shows client-go's fallback line, as
// kubectl -v=4 does.
func TestFallbackLogged(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.useContainer(demoContainer)
	backend := api.upgrade
	api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
		if wsstream.IsWebSocketRequest(r) {
			writeStatus(w, apierrors.NewBadRequest("no WebSocket here"))
			return
		}
		backend(w, r)
	})
	var logged bytes.Buffer
	klog.SetOutput(&logged)
	t.Cleanup(func() { klog.SetOutput(io.Discard) })
	r := api.run(nil, "-v=4", "exec", "demo", "--", "echo", "hi")
	runKubectl(t, nil, "-v=0", "version", "--client")
	if r != (result{stdout: "hi\n"}) {
		t.Errorf("got %+v", r)
	}
	if !strings.Contains(logged.String(), `"RemoteCommand fallback" err="unable to upgrade streaming request: no WebSocket here"`) {
		t.Errorf("log has no fallback line:\n%s", logged.String())
	}
}

func TestShouldFallback(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&streamhttp.UpgradeFailureError{Cause: errors.New("403 Forbidden")}, true},
		{fmt.Errorf("wrapped: %w", &streamhttp.UpgradeFailureError{Cause: errors.New("400")}), true},
		{errors.New(`proxyconnect tcp: proxy: unknown scheme: https`), true},
		// client-go v0.37's WebSocket transport no longer reports
		// apimachinery's type; kubectl's rule moved with it.
		{&apihttpstream.UpgradeFailureError{Cause: errors.New("403 Forbidden")}, false},
		{io.EOF, false},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), false},
	} {
		if got := shouldFallback(tc.err); got != tc.want {
			t.Errorf("shouldFallback(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
