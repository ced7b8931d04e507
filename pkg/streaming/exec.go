package streaming

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	utilexec "k8s.io/utils/exec"
)

// serveExec runs the command of req on the upgraded connection, as
// cri-streaming's remotecommand.ServeExec.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request, req *runtimeapi.ExecRequest) {
	opts := streamOptions{stdin: req.Stdin, stdout: req.Stdout, stderr: req.Stderr, tty: req.Tty, exec: true}
	s.serveRemoteCommand(w, r, opts, func(ctx context.Context, streams Streams) streamStatus {
		return execStatus(s.runtime.Exec(ctx, req.ContainerId, req.Cmd, streams))
	})
}

// execStatus reports how a command ended (remotecommand/exec.go): its exit
// code when err is an exec.ExitError of a process that exited, else an
// internal error.
func execStatus(err error) streamStatus {
	if err == nil {
		return statusSuccess
	}
	// errors.As rather than upstream's type assertion: a runtime that wraps
	// the exit error must not lose the code.
	var exitErr utilexec.ExitError
	if errors.As(err, &exitErr) && exitErr.Exited() {
		return streamStatus{
			Status:  metav1.StatusFailure,
			Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
			Reason:  remotecommand.NonZeroExitCodeReason,
			Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{
				Type:    remotecommand.ExitCodeCauseType,
				Message: strconv.Itoa(exitErr.ExitStatus()),
			}}},
		}
	}
	return internalError(fmt.Errorf("error executing command in container: %w", err))
}
