package minikubectl

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"time"

	"k8s.io/apiserver/pkg/util/proxy"
	crirc "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// container plays the process behind exec (cmd set) or attach (cmd nil).
type container func(cmd []string, s containerStreams) error

// containerStreams are the session's streams as the runtime sees them; a
// stream the client did not ask for is nil.
type containerStreams struct {
	in          io.Reader
	out, errOut io.WriteCloser
	tty         bool
	resize      <-chan crirc.TerminalSize
}

func (c container) ExecInContainer(_ context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan crirc.TerminalSize, _ time.Duration) error {
	return c(cmd, containerStreams{in, out, errOut, tty, resize})
}

func (c container) AttachContainer(_ context.Context, _, _, _ string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan crirc.TerminalSize) error {
	return c(nil, containerStreams{in, out, errOut, tty, resize})
}

// useContainer makes the fake API serve exec and attach the way
// kube-apiserver ≥ 1.30 in front of a kubelet does: SPDY (a POST) reaches
// the upstream CRI streaming server (k8s.io/cri-streaming, v1–v4), a
// WebSocket (a GET, v5) is terminated by the upstream stream translator,
// which speaks SPDY to that server.
func (api *fakeAPI) useContainer(c container) {
	spdyServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveSPDY(w, r, c)
	}))
	api.t.Cleanup(spdyServer.Close)
	api.setUpgrade(func(w http.ResponseWriter, r *http.Request) {
		if !wsstream.IsWebSocketRequest(r) {
			serveSPDY(w, r, c)
			return
		}
		location, _ := url.Parse(spdyServer.URL + r.URL.Path)
		location.RawQuery = r.URL.RawQuery
		proxy.NewStreamTranslatorHandler(location, nil, 0, proxy.Options{
			Stdin:  queryBool(r, "stdin"),
			Stdout: queryBool(r, "stdout"),
			Stderr: queryBool(r, "stderr"),
			Tty:    queryBool(r, "tty"),
		}).ServeHTTP(w, r)
	})
}

// serveSPDY hands an API-style request (stdin=true…) to the CRI streaming
// server's session code.
func serveSPDY(w http.ResponseWriter, r *http.Request, c container) {
	opts := &crirc.Options{
		Stdin:  queryBool(r, "stdin"),
		Stdout: queryBool(r, "stdout"),
		Stderr: queryBool(r, "stderr"),
		TTY:    queryBool(r, "tty"),
	}
	name := r.URL.Query().Get("container")
	if strings.HasSuffix(r.URL.Path, "/attach") {
		crirc.ServeAttach(w, r, c, "pod", "uid", name, opts, time.Minute, 10*time.Second, crirc.SupportedStreamingProtocols)
		return
	}
	crirc.ServeExec(w, r, c, "pod", "uid", name, r.URL.Query()["command"], opts, time.Minute, 10*time.Second, crirc.SupportedStreamingProtocols)
}

func queryBool(r *http.Request, key string) bool {
	b, _ := strconv.ParseBool(r.URL.Query().Get(key))
	return b
}
