// Package streaming is the CRI streaming server: it hands out one-time URLs for
// exec, attach and port-forward requests, and serves the remotecommand and
// port-forward protocols on them.
//
// A container runtime answers the CRI calls Exec, Attach and PortForward with
// GetExec, GetAttach and GetPortForward: each caches the request under a random
// token and returns an absolute URL such as http://127.0.0.1:PORT/exec/<token>.
// The kubelet proxies the client's connection to that URL; the server upgrades
// it to SPDY/3.1 or WebSocket, sets up the streams the protocol version calls
// for and runs the request through the Runtime.
//
// It mirrors k8s.io/cri-streaming/pkg/streaming (server.go, request_cache.go,
// remotecommand/, portforward/), and adds the v5.channel.k8s.io WebSocket
// protocol, whose CLOSE signal ends stdin while output still flows. The files:
//
//	server.go, requests.go  the server, its routes and the CRI calls
//	tokens.go               the one-time token cache
//	protocol.go             what differs between remotecommand versions
//	remotecommand.go        the exec/attach session, for every version
//	spdy.go, websocket.go   the two transports of exec and attach
//	spdyframes.go           a SPDY frame written in one syscall
//	exec.go, attach.go      exec and attach, and how they report their end
//	status.go, resize.go    the error and resize streams
//	portforward*.go         port-forward over SPDY and WebSocket
//	errors.go, conns.go     HTTP error answers; a session's context
//	trace.go                a session's span, tied by its token to the CRI call
//
// Tracking open connections and the bound on sessions are shared with the
// other servers, in internal/httpserver.
package streaming

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/utils/clock"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/faults"
)

// Config configures a Server. Zero fields take their defaults.
type Config struct {
	// Addr is the TCP address to listen on; default "127.0.0.1:0", a free
	// port. It must be a loopback address (see listenLoopback).
	Addr string
	// StreamIdleTimeout closes a session on which nothing was sent or
	// received for that long; default 4h, as upstream.
	StreamIdleTimeout time.Duration
	// StreamCreationTimeout bounds how long an SPDY client may take to
	// create its streams; default 30s, as upstream.
	StreamCreationTimeout time.Duration
	// MaxSessions bounds the sessions served at once; past it a request
	// gets 429. Default DefaultMaxSessions. Upstream has no such bound.
	MaxSessions int
	// TracerProvider traces the sessions (pkg/tracing); nil traces none.
	TracerProvider trace.TracerProvider
	// Logger receives the server's logs, marked logger=streaming; default
	// slog.Default(). A process that runs several servers (pkg/execlabtest)
	// gives each its own.
	Logger *slog.Logger
	// Faults are injected into the sessions served and the token cache
	// (pkg/faults, the streaming hop); none by default.
	Faults faults.Set
}

// DefaultMaxSessions is the default Config.MaxSessions: room for the
// 1000 concurrent sessions the chain is tested with, and a bound on the
// processes and descriptors a flood can take.
const DefaultMaxSessions = 4096

// Server is a CRI streaming server. Create it with NewServer.
type Server struct {
	cfg      Config
	runtime  Runtime
	log      *slog.Logger
	listener net.Listener
	http     *http.Server
	mux      *http.ServeMux
	tokens   *tokenCache
	tracer   trace.Tracer
	conns    httpserver.Conns
	sessions *httpserver.SessionLimit
}

// NewServer returns a server for rt, already listening on cfg.Addr so that
// URL, GetExec and friends can answer before Serve runs.
func NewServer(cfg Config, rt Runtime) (*Server, error) {
	if rt == nil {
		return nil, errors.New("streaming server: nil Runtime")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.StreamIdleTimeout == 0 {
		cfg.StreamIdleTimeout = 4 * time.Hour
	}
	if cfg.MaxSessions == 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.StreamCreationTimeout == 0 {
		cfg.StreamCreationTimeout = remotecommand.DefaultStreamCreationTimeout
	}
	if cfg.TracerProvider == nil {
		cfg.TracerProvider = noop.NewTracerProvider()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := cfg.Faults.Check(faults.Streaming, faults.Runtime); err != nil {
		return nil, fmt.Errorf("streaming server: %w", err)
	}
	lis, err := listenLoopback(cfg.Addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:      cfg,
		runtime:  rt,
		log:      cfg.Logger.With("logger", "streaming"),
		tracer:   cfg.TracerProvider.Tracer("github.com/execlab/execlab/pkg/streaming"),
		listener: lis,
		tokens:   newTokenCache(clock.RealClock{}),
		sessions: &httpserver.SessionLimit{Who: "this server", Max: int64(cfg.MaxSessions)},
	}
	if ttl, ok := cfg.Faults.TokenTTL(); ok {
		s.tokens.ttl = ttl
	}
	s.mux = http.NewServeMux()
	s.mux.Handle("/exec/{token}", route(s, "exec", s.serveExec))
	s.mux.Handle("/attach/{token}", route(s, "attach", s.serveAttach))
	s.mux.Handle("/portforward/{token}", route(s, "portforward", s.servePortForward))
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
	})
	s.http = &http.Server{
		Handler: s,
		// Bounds clients that never finish their headers; sessions
		// themselves run on hijacked connections, beyond this.
		ReadHeaderTimeout: cfg.StreamCreationTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// URL returns the server's base URL, such as http://127.0.0.1:PORT.
func (s *Server) URL() string {
	return "http://" + s.listener.Addr().String()
}

// Serve serves connections until Close, then returns nil.
func (s *Server) Serve() error {
	err := s.http.Serve(s.listener)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("streaming server: %w", err)
}

// Close stops listening, ends every open session and waits for their
// handlers to return. Runtime calls must return once their context is done.
func (s *Server) Close() error {
	err := s.http.Close()
	// Serve may never have run, leaving the listener to us.
	if lerr := s.listener.Close(); lerr != nil && !errors.Is(lerr, net.ErrClosed) && err == nil {
		err = lerr
	}
	s.conns.CloseAll()
	return err
}

// ServeHTTP serves the streaming endpoints /exec/{token}, /attach/{token}
// and /portforward/{token}, for GET and POST as upstream.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.conns.Enter() {
		writeStatus(w, http.StatusServiceUnavailable, metav1.StatusReasonServiceUnavailable, "the streaming server is shutting down")
		return
	}
	defer s.conns.Leave()
	if err := s.sessions.Enter(); err != nil {
		WriteError(w, err)
		return
	}
	defer s.sessions.Leave()
	s.mux.ServeHTTP(w, r)
}

// route returns the handler of one streaming endpoint, with the faults of
// the streaming hop around it (pkg/faults).
func route[T any](s *Server, kind string, serve func(http.ResponseWriter, *http.Request, T)) http.Handler {
	writeError := func(w http.ResponseWriter, _ *http.Request, err error) { WriteError(w, err) }
	return faults.Wrap(faults.Streaming, s.cfg.Faults, kind, routeHandler(s, kind, serve), writeError)
}

// routeHandler takes the URL's token out of the cache, so it is used up
// whatever follows, and passes on the CRI request of type T it stood for,
// in the session's span; any other token answers 404, as upstream.
func routeHandler[T any](s *Server, kind string, serve func(http.ResponseWriter, *http.Request, T)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, POST")
			writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
				fmt.Sprintf("method %s not allowed: use GET or POST", r.Method))
			return
		}
		cached, _ := s.tokens.Consume(r.PathValue("token"))
		c, _ := cached.(cachedRequest)
		req, ok := c.req.(T)
		if !ok {
			writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "unknown, used or expired streaming token")
			return
		}
		ctx, span := s.startSession(r, kind, c)
		defer span.End()
		serve(w, r.WithContext(ctx), req)
	})
}
