package streamtranslator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	constants "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"

	"github.com/execlab/execlab/internal/testutil"
)

// serveSPDY is a streaming server reduced to a session: it negotiates
// protocol, takes the client's stdout and error streams, and runs session
// on them; the connection closes when session returns.
func serveSPDY(t *testing.T, protocol string, session func(conn httpstream.Connection, streams map[string]httpstream.Stream)) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := httpstream.Handshake(r, w, []string{protocol}); err != nil {
			return
		}
		streams := make(chan httpstream.Stream, 2)
		conn := spdy.NewResponseUpgrader().UpgradeResponse(w, r, func(s httpstream.Stream, replySent <-chan struct{}) error {
			streams <- s
			return nil
		})
		if conn == nil {
			return
		}
		defer conn.Close()
		byType := map[string]httpstream.Stream{}
		for len(byType) < 2 {
			s := <-streams
			byType[s.Headers().Get(corev1.StreamType)] = s
		}
		session(conn, byType)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// ending is a session that writes "out" on stdout, then the status if
// any, and ends, as a server that finished (a status) or died (none).
func ending(t *testing.T, status *metav1.Status) func(httpstream.Connection, map[string]httpstream.Stream) {
	return func(_ httpstream.Connection, streams map[string]httpstream.Stream) {
		if _, err := streams[corev1.StreamTypeStdout].Write([]byte("out")); err != nil {
			t.Errorf("writing stdout: %v", err)
		}
		if status != nil {
			bs, _ := json.Marshal(status)
			if _, err := streams[corev1.StreamTypeError].Write(bs); err != nil {
				t.Errorf("writing the status: %v", err)
			}
		}
	}
}

// TestSessionEnd: a WebSocket client (client-go's, as kubectl ≥ 1.30)
// learns how the session behind the translator ended: success, the exit
// code, or, when a v4 or v5 server ended without a status, a Failure
// where upstream's StreamTranslatorHandler reports success. Under v3 a
// success carries no status, so an end without one stays a success.
func TestSessionEnd(t *testing.T) {
	exit3 := &metav1.Status{Status: metav1.StatusFailure, Reason: constants.NonZeroExitCodeReason,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: constants.ExitCodeCauseType, Message: "3"}}}}
	for _, tc := range []struct {
		name     string
		protocol string
		status   *metav1.Status // what the server writes on the error stream; nil: nothing
		// says is what client-go returns: the exit code as an
		// exec.CodeExitError, any other Failure as its message.
		says string
	}{
		{"v4 success", constants.StreamProtocolV4Name, &metav1.Status{Status: metav1.StatusSuccess}, "<nil>"},
		{"v5 exit 3", constants.StreamProtocolV5Name, exit3, "command terminated with exit code 3"},
		{"v4 died", constants.StreamProtocolV4Name, nil, "Internal error occurred: " + ErrNoStatus.Error()},
		{"v5 died", constants.StreamProtocolV5Name, nil, "Internal error occurred: " + ErrNoStatus.Error()},
		{"v3 ended", constants.StreamProtocolV3Name, nil, "<nil>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testutil.CheckGoroutines(t)
			backend := serveSPDY(t, tc.protocol, ending(t, tc.status))
			location, _ := url.Parse(backend.URL + "/exec")
			front := httptest.NewServer(New(location, nil, Options{Stdout: true}))
			t.Cleanup(front.Close)

			u, _ := url.Parse(front.URL + "/exec?command=sh")
			executor, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: front.URL}, http.MethodGet, u.String())
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var stdout bytes.Buffer
			err = executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: &stdout})
			var exitErr exec.CodeExitError
			if errString(err) != tc.says || errors.As(err, &exitErr) != strings.Contains(tc.says, "exit code") || stdout.String() != "out" {
				t.Errorf("got %v (%T), stdout %q; want %s, stdout \"out\"", err, err, stdout.String(), tc.says)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return strings.TrimSpace(err.Error())
}

// TestClientLeaves: when the WebSocket client leaves a session whose
// command says nothing more, the translator closes its SPDY connection to
// the next hop instead of holding it open until the command ends. (The
// request's context ends it: net/http cancels it when wsstream's read of
// the hijacked connection fails.)
func TestClientLeaves(t *testing.T) {
	testutil.CheckGoroutines(t)
	spdyClosed := make(chan struct{})
	backend := serveSPDY(t, constants.StreamProtocolV5Name, func(conn httpstream.Connection, streams map[string]httpstream.Stream) {
		streams[corev1.StreamTypeStdout].Write([]byte("out"))
		// A quiet command: the session ends only with the connection.
		<-conn.CloseChan()
		close(spdyClosed)
	})
	location, _ := url.Parse(backend.URL + "/exec")
	front := httptest.NewServer(New(location, nil, Options{Stdout: true}))
	t.Cleanup(front.Close)

	executor, err := remotecommand.NewWebSocketExecutor(&rest.Config{Host: front.URL}, http.MethodGet, front.URL+"/exec?command=sh")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	out := &cancelOnWrite{cancel: cancel}
	if err := executor.StreamWithContext(ctx, remotecommand.StreamOptions{Stdout: out}); !errors.Is(err, context.Canceled) {
		t.Errorf("the client's session ended with %v, want context.Canceled", err)
	}
	select {
	case <-spdyClosed:
	case <-time.After(30 * time.Second):
		t.Fatal("the SPDY connection was still open 30 s after the WebSocket client left")
	}
}

// cancelOnWrite leaves the session at its first output.
type cancelOnWrite struct{ cancel func() }

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	w.cancel()
	return len(p), nil
}
