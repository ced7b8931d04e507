package faults

import (
	"context"
	"net/url"
	"path"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// rpcMethods are the CRI calls that answer a streaming URL, by the names
// the faults' rpc parameter takes.
var rpcMethods = map[string]string{
	"Exec":        "/runtime.v1.RuntimeService/Exec",
	"Attach":      "/runtime.v1.RuntimeService/Attach",
	"PortForward": "/runtime.v1.RuntimeService/PortForward",
}

// UnaryInterceptor applies the faults of s that apply at the runtime (cri-error,
// streaming-url) to the CRI gRPC service; nil when there are none, so that
// a runtime without faults has no interceptor at all.
func UnaryInterceptor(s Set) grpc.UnaryServerInterceptor {
	s = s.At(Runtime)
	if len(s) == 0 {
		return nil
	}
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		for _, f := range s {
			if f.Name == "cri-error" && info.FullMethod == rpcMethods[f.param("rpc")] {
				code, _ := grpcCode(f.param("code"))
				return nil, status.Error(code, f.param("message"))
			}
		}
		resp, err := handler(ctx, req)
		if err != nil {
			return resp, err
		}
		for _, f := range s {
			if f.Name == "streaming-url" && info.FullMethod == rpcMethods[f.param("rpc")] {
				rewriteURL(resp, f.param("form"))
			}
		}
		return resp, nil
	}
}

// rewriteURL makes the streaming URL of an Exec, Attach or PortForward
// answer relative (/exec/TOKEN) or scheme-less (127.0.0.1:PORT/exec/TOKEN).
func rewriteURL(resp any, form string) {
	rewrite := func(raw string) string {
		u, err := url.Parse(raw)
		if err != nil {
			return raw
		}
		if form == "schemeless" {
			return path.Join(u.Host, u.Path)
		}
		return u.Path
	}
	switch r := resp.(type) {
	case *runtimeapi.ExecResponse:
		r.Url = rewrite(r.Url)
	case *runtimeapi.AttachResponse:
		r.Url = rewrite(r.Url)
	case *runtimeapi.PortForwardResponse:
		r.Url = rewrite(r.Url)
	}
}
