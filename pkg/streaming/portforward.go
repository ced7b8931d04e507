package streaming

import (
	"context"
	"fmt"
	"io"
	"net/http"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// servePortForward forwards connections to the sandbox's ports over the
// upgraded connection, as cri-streaming's portforward.ServePortForward.
// Over SPDY the client opens a data and an error stream per connection and
// names the port in their headers; over WebSocket the ports are fixed when
// the connection opens and each gets a data and an error channel.
func (s *Server) servePortForward(w http.ResponseWriter, r *http.Request, req *runtimeapi.PortForwardRequest) {
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
