package apiserver

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/apiserver/registry"

	"go.opentelemetry.io/otel/trace"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/apiserver/pkg/endpoints/filters/impersonation"

	"github.com/execlab/execlab/pkg/tracing"
)

// buildHandlerChain wraps the API in the filters of kube-apiserver's
// DefaultBuildHandlerChain (k8s.io/apiserver/pkg/server/config.go) that
// this server has, listed from the outermost, which a request meets first.
func (s *Server) buildHandlerChain(api http.Handler) http.Handler {
	filters := []func(http.Handler) http.Handler{
		s.withConnectionTracking,
		withPanicRecovery,
		s.withRequestLog,
		func(h http.Handler) http.Handler { return withRequestInfo(h, s.requestInfo) },
		s.withAuthentication,
		s.withTracing,
		s.withImpersonation,
		s.withAuthorization,
	}
	h := api
	for i := len(filters) - 1; i >= 0; i-- {
		h = filters[i](h)
	}
	return h
}

// withTracing traces each request with upstream's filter (APIServerTracing),
// which kube-apiserver places inside authentication so that it continues
// the trace of a system:masters caller, and starts a new one, linked, for
// anyone else. The span gets the phase authentication was, and kubectl's
// session ID; the request it forwards to a kubelet carries its trace.
func (s *Server) withTracing(h http.Handler) http.Handler {
	phases := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		span := trace.SpanFromContext(r.Context())
		if id := r.Header.Get("Kubectl-Session"); id != "" {
			span.SetAttributes(tracing.AttrKubectlSession.String(id))
		}
		if u, ok := request.UserFrom(r.Context()); ok {
			span.AddEvent(tracing.PhaseAuthenticated, trace.WithAttributes(tracing.AttrUser.String(u.GetName())))
		}
		h.ServeHTTP(w, r)
	})
	return filters.WithTracing(phases, s.tracing.TracerProvider())
}

// withImpersonation serves a request with Impersonate-User (kubectl --as)
// as that user once the caller may impersonate it, with upstream's filter
// (ConstrainedImpersonation being off by default).
func (s *Server) withImpersonation(h http.Handler) http.Handler {
	if s.authorizer == nil {
		return h
	}
	return impersonation.WithImpersonation(h, s.authorizer, registry.Codecs)
}

// withConnectionTracking ties hijacked connections to the server's life,
// so that streams end when the server stops (Serve closes them).
func (s *Server) withConnectionTracking(h http.Handler) http.Handler {
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		registry.WriteError(w, r, apierrors.NewServiceUnavailable("the server is shutting down"))
	})
	return s.conns.Track(h, refuse)
}

// withPanicRecovery answers a panicking handler with a 500 Status rather
// than a dropped connection (WithPanicRecovery upstream). The reverse
// proxy's http.ErrAbortHandler is net/http's to handle.
func withPanicRecovery(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			slog.ErrorContext(r.Context(), "handler panic", "method", r.Method, "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
			registry.WriteError(w, r, apierrors.NewInternalError(fmt.Errorf("panic: %v", v)))
		}()
		h.ServeHTTP(w, r)
	})
}

// withRequestInfo parses the path into the RequestInfo (verb, namespace,
// resource, name, subresource) that routing, and later authorization, use.
// It is upstream's filters.WithRequestInfo but for its error: that one
// answers a path it cannot parse (GET /api/v1/watch) with a text/plain
// "Internal Server Error", this server with a Status, as before.
func withRequestInfo(h http.Handler, factory *request.RequestInfoFactory) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := factory.NewRequestInfo(r)
		if err != nil {
			registry.WriteError(w, r, apierrors.NewInternalError(fmt.Errorf("failed to create RequestInfo: %w", err)))
			return
		}
		h.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	})
}

// withRequestLog logs each request once it is done, at debug level or as
// a warning for a server error (the Status says which).
func (s *Server) withRequestLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := httpserver.Record(w)
		defer func() {
			level := slog.LevelDebug
			if rec.Status() >= http.StatusInternalServerError {
				level = slog.LevelWarn
			}
			s.log.Log(r.Context(), level, "request", "method", r.Method, "uri", r.URL.RequestURI(), "status", rec.Status(),
				"duration", time.Since(start), "userAgent", r.UserAgent())
		}()
		h.ServeHTTP(rec, r)
	})
}
