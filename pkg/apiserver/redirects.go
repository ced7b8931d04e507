package apiserver

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/httpstream"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apimachinery/pkg/util/proxy"

	"go.opentelemetry.io/otel/trace"
)

// redirectFollower proxies an upgrade to the kubelet and, when the kubelet
// answers with a redirect to its runtime's streaming server (a kubelet with
// --redirect-container-streaming), connects there itself and splices the
// client to it: the kubelet is then out of the session. kube-apiserver did
// this under the StreamingProxyRedirects gate (on by default until 1.22,
// removed in 1.24; KEP 1558) through UpgradeAwareHandler's InterceptRedirects and
// RequireSameHostRedirects (apimachinery ≤ v0.23, pkg/util/proxy/upgradeaware.go
// tryUpgrade and pkg/util/net/http.go ConnectWithRedirects). Hand-written:
// the code left apimachinery with the feature, and it is a teaching switch
// here (Options.StreamingProxyRedirects).
type redirectFollower struct {
	location  *url.URL
	transport http.RoundTripper
	responder errorResponder
	// followed, when set, is told where each redirect leads before the
	// request goes there.
	followed func(*url.URL)
}

// The bounds of ConnectWithRedirects: the tenth redirect fails, and an
// answer's head is read from at most 16 KiB.
const (
	maxRedirects    = 9
	maxResponseHead = 16384
)

func (h *redirectFollower) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if !httpstream.IsUpgradeRequest(req) {
		h.responder.Error(apierrors.NewBadRequest("Upgrade request required"))
		return
	}
	backend, status, raw, err := h.connect(req)
	if err != nil {
		h.responder.Error(err)
		return
	}
	defer backend.Close()
	hijacker, ok := w.(http.Hijacker)
	if !ok {
		h.responder.Error(fmt.Errorf("request connection cannot be hijacked: %T", w))
		return
	}
	client, _, err := hijacker.Hijack()
	if err != nil {
		h.responder.Error(fmt.Errorf("error hijacking connection: %w", err))
		return
	}
	defer client.Close()
	// The answer as it came, and whatever of the session was read with it.
	if _, err := client.Write(raw); err != nil || status != http.StatusSwitchingProtocols {
		return
	}
	done := make(chan struct{}, 2)
	go func() { io.Copy(backend, client); done <- struct{}{} }()
	go func() { io.Copy(client, backend); done <- struct{}{} }()
	// One direction ending ends the session; the deferred closes end the
	// other.
	<-done
}

// connect sends the request to the kubelet and follows its 302 answers,
// as ConnectWithRedirects did: a redirected request becomes a GET, and goes
// only to the kubelet's own host (RequireSameHostRedirects, the
// ValidateProxyRedirects gate), the defence added after a node could send
// the apiserver, with its client certificate, anywhere (CVE-2018-1002102).
// It returns the connection that gave an answer other than 302, that
// answer's status, and every byte read from it.
func (h *redirectFollower) connect(req *http.Request) (net.Conn, int, []byte, error) {
	clone := utilnet.CloneRequest(req)
	utilnet.AppendForwardedForHeader(clone)
	// An upgrade request has no body.
	location, method, header := h.location, req.Method, clone.Header
	for redirects := 0; ; redirects++ {
		if redirects > maxRedirects {
			return nil, 0, nil, fmt.Errorf("too many redirects (%d)", redirects)
		}
		out, err := http.NewRequestWithContext(req.Context(), method, location.String(), nil)
		if err != nil {
			return nil, 0, nil, err
		}
		out.Header = header
		dialCtx := req.Context()
		if redirects > 0 {
			// Not the kubelet: no "kubelet dialled" phase for this dial.
			dialCtx = trace.ContextWithSpan(dialCtx, trace.SpanFromContext(context.Background()))
		}
		conn, err := proxy.DialURL(dialCtx, location, h.transport)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("error dialing backend: %w", err)
		}
		var raw bytes.Buffer
		resp, err := writeAndRead(conn, out, &raw)
		if err != nil {
			conn.Close()
			return nil, 0, nil, fmt.Errorf("error dialing backend: %w", err)
		}
		if resp.StatusCode != http.StatusFound {
			return conn, resp.StatusCode, raw.Bytes(), nil
		}
		conn.Close()
		next, err := location.Parse(resp.Header.Get("Location"))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("malformed Location header: %w", err)
		}
		if next.Hostname() != h.location.Hostname() {
			return nil, 0, nil, fmt.Errorf("hostname mismatch: expected %s, found %s", h.location.Hostname(), next.Hostname())
		}
		location, method = next, http.MethodGet
		if h.followed != nil {
			h.followed(location)
		}
	}
}

// writeAndRead writes req to conn and reads the head of the answer,
// keeping in raw every byte read.
func writeAndRead(conn net.Conn, req *http.Request, raw *bytes.Buffer) (*http.Response, error) {
	if err := req.Write(conn); err != nil {
		return nil, err
	}
	r := bufio.NewReader(io.TeeReader(io.LimitReader(conn, maxResponseHead), raw))
	resp, err := http.ReadResponse(r, req)
	if err != nil {
		return nil, err
	}
	// A redirect's body is not needed, and a 101's is the session.
	return resp, nil
}
