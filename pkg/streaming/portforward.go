package streaming

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"

	translator "k8s.io/apiserver/pkg/util/proxy"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// servePortForward forwards connections to the sandbox's ports over the
// upgraded connection, as cri-streaming's portforward.ServePortForward.
// Over SPDY the client opens a data and an error stream per connection and
// names the port in their headers; over WebSocket the ports are fixed when
// the connection opens and each gets a data and an error channel.
//
// A WebSocket that tunnels SPDY (SPDY/3.1+portforward.k8s.io, client-go's
// port-forward over WebSocket since 1.30) is served as SPDY, unwrapped by
// the apiserver's TunnelingHandler: upstream's streaming server knows only
// the channel protocol, so such clients (critest -websocket-portforward)
// fail against containerd when no apiserver translates for them.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, req *runtimeapi.PortForwardRequest) {
	if wsstream.IsWebSocketRequestWithTunnelingProtocol(r) {
		spdy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.servePortForwardSPDY(&rawUpgradeWriter{ResponseWriter: w}, r, req.PodSandboxId)
		})
		translator.NewTunnelingHandler(spdy).ServeHTTP(w, r)
		return
	}
	if wsstream.IsWebSocketRequest(r) {
		s.servePortForwardWebSocket(w, r, req)
		return
	}
	s.servePortForwardSPDY(w, r, req.PodSandboxId)
}

// forwardPort copies between data and the sandbox's port until either side
// ends. A failure goes to errorStream in upstream's words
// (portforward/httpstream.go), where CRI leaves the pod UID empty.
func (s *Server) forwardPort(ctx context.Context, sandboxID string, port int32, data io.ReadWriteCloser, errorStream io.Writer) error {
	err := s.runtime.PortForward(ctx, sandboxID, port, data)
	if err == nil {
		return nil
	}
	err = fmt.Errorf("error forwarding port %d to pod %s, uid %v: %w", port, sandboxID, "", err)
	s.log.Info("Port forward failed", "err", err)
	_, _ = io.WriteString(errorStream, err.Error())
	return err
}

// rawUpgradeWriter lets an SPDY upgrader answer through the
// TunnelingHandler, which expects what the UpgradeAwareHandler it was
// written for sends: the 101 response as raw bytes on the hijacked
// connection, not through WriteHeader. Its Hijack returns no buffered
// reader either, which the upgrader needs.
type rawUpgradeWriter struct {
	http.ResponseWriter
	upgrade bool
}

func (w *rawUpgradeWriter) WriteHeader(code int) {
	if code == http.StatusSwitchingProtocols {
		w.upgrade = true
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *rawUpgradeWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the tunnel cannot be hijacked")
	}
	conn, _, err := h.Hijack()
	if err != nil {
		return nil, nil, err
	}
	if w.upgrade {
		resp := &http.Response{StatusCode: http.StatusSwitchingProtocols, ProtoMajor: 1, ProtoMinor: 1, Header: w.Header()}
		if err := resp.Write(conn); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("write the upgrade through the tunnel: %w", err)
		}
	}
	return conn, bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn)), nil
}
