package server

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	clientexec "k8s.io/client-go/util/exec"

	"github.com/execlab/execlab/internal/testutil"
)

// assertCall compares a recorded host call with the one wanted.
func assertCall(t *testing.T, what string, got, want hostCall) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: %+v, want %+v", what, got, want)
	}
}

func TestExec(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("web"))
	serveStreaming(t, e.host)

	for _, tc := range []struct {
		name     string
		executor func(string) (remotecommand.Executor, error)
	}{
		{"spdy", spdyExecutor},
		// v5 WebSocket, translated to SPDY by the kubelet.
		{"websocket", webSocketExecutor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.host.callsOf("GetExec"))
			out, _, err := e.exec(tc.executor, "/exec/default/web/c?command=cat&input=1&output=1&error=1", "ping\x00pong", false)
			if err != nil || out != "ping\x00pong" {
				t.Fatalf("cat: %q, %v", out, err)
			}
			calls := e.host.callsOf("GetExec")
			if len(calls) != before+1 {
				t.Fatalf("%d GetExec calls", len(calls)-before)
			}
			assertCall(t, "exec", calls[before], hostCall{
				method: "GetExec", pod: "default/web", container: "c", cmd: []string{"cat"}, opts: StreamOptions{Stdin: true, Stdout: true, Stderr: true},
			})

			out, errOut, err := e.exec(tc.executor, "/exec/default/web/uid-web/c?command=both&output=true&error=True", "", false)
			call := e.host.callsOf("GetExec")[before+1]
			if err != nil || out != "out of "+containerID(call) || errOut != "err" || call.podUID != "uid-web" {
				t.Errorf("both, by pod UID: %q %q %v, asked for pod UID %q", out, errOut, err, call.podUID)
			}

			_, _, err = e.exec(tc.executor, "/exec/default/web/c?command=exit&command=3&output=1&error=1", "", false)
			var exitErr clientexec.ExitError
			if !errors.As(err, &exitErr) || exitErr.ExitStatus() != 3 {
				t.Errorf("exit 3: %v (%T)", err, err)
			}
		})
	}

	// A terminal merges stderr into stdout: the kubelet drops error=1.
	before := len(e.host.callsOf("GetExec"))
	if out, _, err := e.exec(spdyExecutor, "/exec/default/web/c?command=cat&input=1&output=1&error=1&tty=1", "x", true); err != nil || out != "x" {
		t.Errorf("tty cat: %q %v", out, err)
	}
	assertCall(t, "tty exec", e.host.callsOf("GetExec")[before], hostCall{
		method: "GetExec", pod: "default/web", container: "c", cmd: []string{"cat"}, opts: StreamOptions{Stdin: true, Stdout: true, TTY: true},
	})
}

func TestAttachAndPortForward(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("web"))
	serveStreaming(t, e.host)

	out, _, err := e.exec(spdyExecutor, "/attach/default/web/c?input=1&output=1&error=1", "hello", false)
	if err != nil || out != "hello" {
		t.Errorf("attach: %q %v", out, err)
	}
	assertCall(t, "attach", e.host.callsOf("GetAttach")[0], hostCall{
		method: "GetAttach", pod: "default/web", container: "c", opts: StreamOptions{Stdin: true, Stdout: true, Stderr: true},
	})

	for _, tc := range []struct {
		name   string
		dialer func(t *testing.T, u string) httpstream.Dialer
	}{
		{"spdy", func(t *testing.T, u string) httpstream.Dialer { return testutil.SPDYDialer(t, &rest.Config{}, u) }},
		// SPDY tunnelled in WebSocket, unwrapped by the kubelet.
		{"websocket", func(t *testing.T, u string) httpstream.Dialer {
			parsed, _ := url.Parse(u)
			dialer, err := portforward.NewSPDYOverWebsocketDialer(parsed, &rest.Config{})
			if err != nil {
				t.Fatal(err)
			}
			return dialer
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.host.callsOf("GetPortForward"))
			local := testutil.PortForward(t, tc.dialer(t, e.base+"/portForward/default/web"), 80)
			conn, err := net.Dial("tcp", local)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Write([]byte("echo"))
			calls := e.host.callsOf("GetPortForward")
			if len(calls) != before+1 {
				t.Fatalf("%d GetPortForward calls", len(calls)-before)
			}
			want := sandboxID(calls[before]) + ":80 echo"
			got := make([]byte, len(want))
			if _, err := io.ReadFull(conn, got); err != nil || string(got) != want {
				t.Errorf("through the forwarded port: %q %v, want %q", got, err, want)
			}
			// SPDY names the ports per stream, not in the request.
			assertCall(t, "port-forward", calls[before], hostCall{method: "GetPortForward", pod: "default/web"})
		})
	}
}

// TestStopEndsSessions stops the server while an exec session is open: the
// session ends and nothing of it stays behind (checked by the goroutine
// count at cleanup).
func TestStopEndsSessions(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("web"))
	serveStreaming(t, e.host)
	stdinW, stdoutR, done := openCat(t, e.base+"/exec/default/web/c?command=cat&input=1&output=1&error=1")
	e.stop()
	<-done
	// The client's stdin copier waits for input that will never come.
	stdinW.Close()
	io.Copy(io.Discard, stdoutR)
}

func TestPodsHealthzPprof(t *testing.T) {
	e := newEnv(t, Options{}, newTestPod("b"), newTestPod("a"))

	code, body := e.get("/pods")
	if code != 200 {
		t.Fatalf("/pods: %d %s", code, body)
	}
	var list v1.PodList
	if err := json.Unmarshal([]byte(body), &list); err != nil {
		t.Fatal(err)
	}
	if list.Kind != "PodList" || list.APIVersion != "v1" || len(list.Items) != 2 || list.Items[0].Name != "a" || list.Items[1].Name != "b" {
		t.Errorf("/pods: %s", body)
	}
	if code, body := e.do(http.MethodPost, "/pods"); code != 405 || body != "405: Method Not Allowed" {
		t.Errorf("POST /pods: %d %q", code, body)
	}
	if code, body := e.get("/healthz"); code != 200 || body != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := e.get("/healthz/syncloop"); code != 200 || body != "ok" {
		t.Errorf("/healthz/syncloop: %d %q", code, body)
	}
	if code, body := e.get("/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/: %d", code)
	}
	if code, body := e.get("/debug/pprof/goroutine?debug=1"); code != 200 || !strings.HasPrefix(body, "goroutine profile: total ") {
		t.Errorf("/debug/pprof/goroutine: %d %.40q", code, body)
	}
	if code, _ := e.get("/nothing"); code != 404 {
		t.Errorf("/nothing: %d", code)
	}
}
