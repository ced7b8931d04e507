package streaming

import (
	"context"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/tracing"
)

// GetExec validates an exec request of the CRI RuntimeService and returns
// the one-time URL on which the client runs it: URL()+"/exec/"+token.
// Unlike upstream's, it takes the CRI call's context: the session that
// redeems the token continues that call's trace.
// Invalid requests answer InvalidArgument, as upstream's
// validateExecRequest; more than 1000 unused URLs answer ResourceExhausted.
func (s *Server) GetExec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	if err := validateStreams(req.ContainerId, req.Tty, req.Stdin, req.Stdout, req.Stderr); err != nil {
		return nil, err
	}
	if len(req.Cmd) == 0 {
		return nil, status.Error(codes.InvalidArgument, "missing required cmd")
	}
	url, err := s.newURL(ctx, "exec", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ExecResponse{Url: url}, nil
}

// GetAttach is GetExec for attaching to the container's main process:
// URL()+"/attach/"+token.
func (s *Server) GetAttach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	if err := validateStreams(req.ContainerId, req.Tty, req.Stdin, req.Stdout, req.Stderr); err != nil {
		return nil, err
	}
	url, err := s.newURL(ctx, "attach", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.AttachResponse{Url: url}, nil
}

// GetPortForward returns the one-time URL on which the client forwards
// ports of the sandbox: URL()+"/portforward/"+token.
func (s *Server) GetPortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	if req.PodSandboxId == "" {
		return nil, status.Error(codes.InvalidArgument, "missing required pod_sandbox_id")
	}
	for _, port := range req.Port {
		if port < 1 || port > 65535 {
			return nil, status.Errorf(codes.InvalidArgument, "invalid port %d", port)
		}
	}
	url, err := s.newURL(ctx, "portforward", req)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PortForwardResponse{Url: url}, nil
}

// validateStreams checks the streams of an exec or attach request, in
// upstream's words (server.go validateExecRequest).
func validateStreams(containerID string, tty, stdin, stdout, stderr bool) error {
	if containerID == "" {
		return status.Error(codes.InvalidArgument, "missing required container_id")
	}
	if tty && stderr {
		// A terminal has one output: stderr cannot be told apart.
		return status.Error(codes.InvalidArgument, "tty and stderr cannot both be true")
	}
	if !stdin && !stdout && !stderr {
		return status.Error(codes.InvalidArgument, "one of stdin, stdout, or stderr must be set")
	}
	return nil
}

// newURL caches req, and ctx's trace context, under a new token and
// returns its absolute URL.
func (s *Server) newURL(ctx context.Context, kind string, req any) (string, error) {
	token, err := s.tokens.Insert(cachedRequest{req: req, trace: trace.SpanContextFromContext(ctx)})
	if err != nil {
		return "", err
	}
	url := s.URL() + "/" + kind + "/" + token
	trace.SpanFromContext(ctx).AddEvent(tracing.PhaseTokenIssued, trace.WithAttributes(tracing.AttrURL.String(tracing.MaskToken(url))))
	return url, nil
}
