package server

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	translator "k8s.io/apiserver/pkg/util/proxy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/streaming"

	"strings"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/tracing"
)

// StreamOptions says which streams an exec or attach session has
// (cri-streaming remotecommand.Options).
type StreamOptions struct {
	Stdin, Stdout, Stderr, TTY bool
}

// newStreamOptions reads input, output, error and tty from the query as
// remotecommand.NewOptions does. Upstream takes only "1" for true; any
// value strconv.ParseBool reads as true is accepted too.
func newStreamOptions(req *http.Request) (StreamOptions, error) {
	q := req.URL.Query()
	flag := func(name string) bool {
		b, err := strconv.ParseBool(q.Get(name))
		return err == nil && b
	}
	opts := StreamOptions{
		Stdin:  flag(v1.ExecStdinParam),
		Stdout: flag(v1.ExecStdoutParam),
		Stderr: flag(v1.ExecStderrParam),
		TTY:    flag(v1.ExecTTYParam),
	}
	// A terminal merges stderr into stdout.
	if opts.TTY && opts.Stderr {
		opts.Stderr = false
	}
	if !opts.Stdin && !opts.Stdout && !opts.Stderr {
		return StreamOptions{}, errors.New("you must specify at least 1 of stdin, stdout, stderr")
	}
	return opts, nil
}

// serveStream serves exec or attach, the subresource: it asks the host for
// the runtime's session and proxies the client's upgraded connection to it
// (upstream's getExec and getAttach, which differ only in the host call).
func (s *Server) serveStream(subresource string) restful.RouteFunction {
	return func(req *restful.Request, resp *restful.Response) {
		uid, container := types.UID(req.PathParameter("uid")), req.PathParameter("containerName")
		opts, err := newStreamOptions(req.Request)
		if err != nil {
			streaming.WriteStatus(resp.ResponseWriter, http.StatusBadRequest, err.Error())
			return
		}
		pod, ok := s.requestedPod(req, resp)
		if !ok {
			return
		}
		ctx := req.Request.Context()
		cmd := req.Request.URL.Query()[v1.ExecCommandParam]
		span := trace.SpanFromContext(ctx)
		span.SetAttributes(tracing.AttrHop.String(tracing.HopKubelet), tracing.AttrSession.String(subresource),
			tracing.AttrNamespace.String(pod.Namespace), tracing.AttrPod.String(pod.Name), tracing.AttrContainer.String(container),
			tracing.AttrCommand.String(strings.Join(cmd, " ")))
		var u *url.URL
		if subresource == "attach" {
			u, err = s.host.GetAttach(ctx, pod, uid, container, opts)
		} else {
			u, err = s.host.GetExec(ctx, pod, uid, container, cmd, opts)
		}
		if err != nil {
			span.SetStatus(codes.Error, err.Error())
			streaming.WriteError(resp.ResponseWriter, err)
			return
		}
		span.AddEvent(tracing.PhaseCRIExec, trace.WithAttributes(tracing.AttrFrom.String(tracing.HopRuntime), tracing.AttrURL.String(tracing.MaskToken(u.String()))))
		if s.redirect {
			s.redirectStream(resp.ResponseWriter, req.Request, u)
			return
		}
		s.proxyStream(resp.ResponseWriter, req.Request, u, opts)
	}
}

// redirectStream sends the client to the runtime's streaming URL instead of
// proxying the stream, as upstream's getExec, getAttach and getPortForward
// did with --redirect-container-streaming (pkg/kubelet/server/server.go,
// Kubernetes ≤ 1.19): the caller, an apiserver that follows redirects or
// the client, then talks to the streaming server itself, and the kubelet is
// out of the session.
func (s *Server) redirectStream(w http.ResponseWriter, req *http.Request, u *url.URL) {
	trace.SpanFromContext(req.Context()).AddEvent(tracing.PhaseRedirected,
		trace.WithAttributes(tracing.AttrTo.String(tracing.HopAPIServer), tracing.AttrURL.String(tracing.MaskToken(u.String()))))
	http.Redirect(w, req, u.String(), http.StatusFound)
}

// requestedPod returns the pod that the path of an exec, attach or
// port-forward names, or answers 404 as upstream does.
func (s *Server) requestedPod(req *restful.Request, resp *restful.Response) (*v1.Pod, bool) {
	pod, ok := s.host.GetPodByName(req.PathParameter("podNamespace"), req.PathParameter("podID"))
	if !ok {
		streaming.WriteStatus(resp.ResponseWriter, http.StatusNotFound, "pod does not exist")
	}
	return pod, ok
}

// proxyStream hands the client's connection to the runtime's streaming
// server. A WebSocket v5 client is translated to SPDY here, as a kubelet
// with ExtendWebSocketsToKubelet does for an apiserver that passes it
// through.
func (s *Server) proxyStream(w http.ResponseWriter, req *http.Request, u *url.URL, opts StreamOptions) {
	if wsstream.IsWebSocketRequestWithStreamCloseProtocol(req) {
		handler := translator.NewStreamTranslatorHandler(u, nil, 0, translator.Options{
			Stdin:  opts.Stdin,
			Stdout: opts.Stdout,
			Stderr: opts.Stderr,
			Tty:    opts.TTY,
		})
		s.proxySession(w, req, handler, "WebSocket v5 from the client, SPDY to the runtime")
		return
	}
	s.proxySession(w, req, proxy.NewUpgradeAwareHandler(u, runtimeTransport, false, true, &responder{s}), "")
}

// proxySession serves a session through handler, the proxy to the
// runtime's streaming server, translating when translation says how. The
// session's span watches the client's connection at this hop (its bytes,
// the upgrade answer) and its trace context goes on with the request.
func (s *Server) proxySession(w http.ResponseWriter, req *http.Request, handler http.Handler, translation string) {
	ctx := req.Context()
	span := trace.SpanFromContext(ctx)
	answeredBy := tracing.HopStreaming
	if translation != "" {
		answeredBy = tracing.HopKubelet
		span.AddEvent(tracing.PhaseTranslated, trace.WithAttributes(tracing.AttrReason.String(translation)))
	} else {
		span.AddEvent(tracing.PhasePassedThrough)
	}
	// The kubelet's caller is the apiserver, or a client straight at the
	// kubelet API, which sends no trace context.
	caller := tracing.HopClient
	if trace.SpanContextFromContext(tracing.Extract(context.Background(), req.Header)).IsValid() {
		caller = tracing.HopAPIServer
	}
	span.SetAttributes(tracing.RequestAttr(req))
	tracing.Inject(ctx, req.Header)
	hop := tracing.NewHop(span, answeredBy, caller, nil)
	rec := httpserver.Record(w)
	rec.WrapHijacked(hop.Wrap)
	handler.ServeHTTP(rec, req)
	hop.End("")
	s.log.InfoContext(ctx, "streaming session ended", "path", req.URL.Path, "protocol", hop.Protocol())
}

// responder answers proxy failures with a Status: a 500, or the code of an
// API error such as the 400 for a request that is no upgrade.
type responder struct{ s *Server }

func (r *responder) Error(w http.ResponseWriter, req *http.Request, err error) {
	r.s.log.Error("error while proxying request", "path", req.URL.Path, "err", err)
	code := http.StatusInternalServerError
	if st, ok := err.(apierrors.APIStatus); ok {
		code = int(st.Status().Code)
	}
	streaming.WriteStatus(w, code, err.Error())
}
