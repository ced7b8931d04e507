package minikubectl

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"

	"github.com/execlab/execlab/pkg/streaming"
)

// shellRuntime is a streaming.Runtime whose containers know the commands
// of demoContainer.
type shellRuntime struct{}

func (shellRuntime) Exec(_ context.Context, _ string, cmd []string, s streaming.Streams) error {
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.Stdout, strings.Join(cmd[1:], " "))
	case "split": // split STDOUT STDERR CODE
		fmt.Fprintln(s.Stdout, cmd[1])
		fmt.Fprintln(s.Stderr, cmd[2])
		if code, _ := strconv.Atoi(cmd[3]); code != 0 {
			return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
		}
	case "cat":
		io.Copy(s.Stdout, s.Stdin)
	default:
		return fmt.Errorf("%s: not found", cmd[0])
	}
	return nil
}

func (shellRuntime) Attach(context.Context, string, streaming.Streams) error {
	return errors.New("attach: not in this test")
}

func (shellRuntime) PortForward(context.Context, string, int32, io.ReadWriteCloser) error {
	return errors.New("port-forward: not in this test")
}

// useStreamingServer makes the fake API do what the API server and the
// kubelet do together for exec: ask the runtime's streaming server for a
// one-time URL (CRI Exec), then proxy the client's upgrade, SPDY or
// WebSocket, unchanged to it.
func (api *fakeAPI) useStreamingServer(srv *streaming.Server) {
	api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		resp, err := srv.GetExec(context.Background(), &runtimeapi.ExecRequest{
			ContainerId: "c1",
			Cmd:         q["command"],
			Tty:         queryBool(r, "tty"),
			Stdin:       queryBool(r, "stdin"),
			Stdout:      queryBool(r, "stdout"),
			Stderr:      queryBool(r, "stderr"),
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		target, err := url.Parse(resp.Url)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL, pr.Out.Host = target, target.Host
		}}).ServeHTTP(w, r)
	})
}

// TestExecThroughStreamingServer runs mini-kubectl's exec path end to end
// against pkg/streaming: exit codes and the separation of stdout and
// stderr must survive both transports.
func TestExecThroughStreamingServer(t *testing.T) {
	big := make([]byte, 1<<20)
	rand.Read(big)
	for _, protocol := range []string{"spdy", "websocket"} {
		t.Run(protocol, func(t *testing.T) {
			withGoroutineCheck(t)
			srv, err := streaming.NewServer(streaming.Config{Addr: "127.0.0.1:0"}, shellRuntime{})
			if err != nil {
				t.Fatal(err)
			}
			served := make(chan error, 1)
			go func() { served <- srv.Serve() }()
			t.Cleanup(func() {
				srv.Close()
				<-served
			})
			api := newFakeAPI(t)
			api.addPod(runningPod("demo", "main"))
			api.useStreamingServer(srv)

			r := api.run(nil, "--protocol", protocol, "exec", "demo", "--", "split", "out", "err", "3")
			if want := (result{stdout: "out\n", stderr: "err\ncommand terminated with exit code 3\n", code: 3}); r != want {
				t.Errorf("exit 3: got %+v, want %+v", r, want)
			}
			if r := api.run(nil, "--protocol", protocol, "exec", "demo", "--", "split", "out", "err", "0"); r != (result{stdout: "out\n", stderr: "err\n"}) {
				t.Errorf("exit 0: %+v", r)
			}
			r = api.run(bytes.NewReader(big), "--protocol", protocol, "exec", "-i", "demo", "--", "cat")
			if r.code != 0 || r.stderr != "" || r.stdout != string(big) {
				t.Errorf("cat of 1 MiB: exit %d, stderr %q, %d bytes back", r.code, r.stderr, len(r.stdout))
			}
			// Any other runtime failure is a 500 on the error stream, shown as kubectl shows it.
			r = api.run(nil, "--protocol", protocol, "exec", "demo", "--", "nope")
			if want := (result{stderr: "error: Internal error occurred: error executing command in container: nope: not found\n", code: 1}); r != want {
				t.Errorf("runtime error: got %+v, want %+v", r, want)
			}
		})
	}
}
