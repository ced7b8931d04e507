package streaming

import (
	"context"
	"fmt"
	"net/http"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// serveAttach attaches the upgraded connection to the container of req, as
// cri-streaming's remotecommand.ServeAttach.
func (s *Server) serveAttach(w http.ResponseWriter, r *http.Request, req *runtimeapi.AttachRequest) {
	opts := streamOptions{stdin: req.Stdin, stdout: req.Stdout, stderr: req.Stderr, tty: req.Tty}
	s.serveRemoteCommand(w, r, opts, func(ctx context.Context, streams Streams) streamStatus {
		return attachStatus(s.runtime.Attach(ctx, req.ContainerId, streams))
	})
}

// attachStatus reports how an attach ended (remotecommand/attach.go). The
// container's exit code is not the attach's business: any error is internal.
func attachStatus(err error) streamStatus {
	if err == nil {
		return statusSuccess
	}
	return internalError(fmt.Errorf("error attaching to container: %w", err))
}
