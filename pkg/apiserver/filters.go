package apiserver

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/endpoints/request"
)

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
			writeError(w, r, apierrors.NewInternalError(fmt.Errorf("panic: %v", v)))
		}()
		h.ServeHTTP(w, r)
	})
}

// withRequestInfo parses the path into the RequestInfo (verb, namespace,
// resource, name, subresource) that routing, and later authorization, use.
func withRequestInfo(h http.Handler, factory *request.RequestInfoFactory) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info, err := factory.NewRequestInfo(r)
		if err != nil {
			writeError(w, r, apierrors.NewInternalError(fmt.Errorf("failed to create RequestInfo: %w", err)))
			return
		}
		h.ServeHTTP(w, r.WithContext(request.WithRequestInfo(r.Context(), info)))
	})
}

// withRequestLog logs each request once it is done, at debug level or as
// a warning for a server error (the Status says which), and
// ties hijacked connections to the server's life so that streams end when
// the server stops.
func (s *Server) withRequestLog(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &responseRecorder{ResponseWriter: w, stopCtx: s.stopCtx}
		defer func() {
			if rw.stopClose != nil {
				rw.stopClose()
			}
			level := slog.LevelDebug
			if rw.status >= http.StatusInternalServerError {
				level = slog.LevelWarn
			}
			s.log.Log(r.Context(), level, "request", "method", r.Method, "uri", r.URL.RequestURI(), "status", rw.status,
				"duration", time.Since(start), "userAgent", r.UserAgent())
		}()
		h.ServeHTTP(rw, r)
	})
}

// responseRecorder notes the status code and keeps the Flusher and
// Hijacker of the connection, which watches and proxies need.
type responseRecorder struct {
	http.ResponseWriter
	status    int
	stopCtx   context.Context
	stopClose func() bool
}

func (w *responseRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

func (w *responseRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over, and closes it if the server stops
// while it is in use.
func (w *responseRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("response writer %T cannot hijack", w.ResponseWriter)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.status = http.StatusSwitchingProtocols
	w.stopClose = context.AfterFunc(w.stopCtx, func() { conn.Close() })
	return conn, rw, nil
}

func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }
