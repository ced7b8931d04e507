package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/endpoints/request"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/apiserver/registry"
	"github.com/execlab/execlab/pkg/faults"

	"github.com/execlab/execlab/pkg/tracing"
)

// StreamingMode says how WebSocket exec, attach and port-forward requests
// reach the kubelet.
type StreamingMode string

const (
	// StreamingTranslate terminates WebSocket v5 exec and attach at the
	// apiserver and speaks SPDY to the kubelet, and tunnels WebSocket
	// port-forward as SPDY, as kube-apiserver 1.30 and later do.
	StreamingTranslate StreamingMode = "translate"
	// StreamingPassthrough proxies WebSocket upgrades to the kubelet
	// unchanged, as kube-apiserver 1.36 does for nodes that declare
	// ExtendWebSocketsToKubelet, and kube-apiserver before 1.30 for all.
	StreamingPassthrough StreamingMode = "passthrough"
	// StreamingPerNode chooses per node, as kube-apiserver 1.36 and later
	// do: passthrough to a node whose status.declaredFeatures has
	// ExtendWebSocketsToKubelet, translate otherwise.
	StreamingPerNode StreamingMode = "per-node"
)

// extendWebSocketsToKubelet is the feature a node declares when its
// kubelet serves WebSocket sessions itself (pkg/kubelet's gate of the name).
const extendWebSocketsToKubelet = "ExtendWebSocketsToKubelet"

// Options configure a Server.
type Options struct {
	// BindAddress and SecurePort are where ListenAndServe listens.
	BindAddress string
	SecurePort  int
	// CertDir holds the cluster's certificates (package pki), made on
	// first start. With it the API is served over HTTPS, client
	// certificates authenticate, and the kubelets are reached over HTTPS
	// with mutual authentication. Empty serves plain HTTP with no
	// authentication, for tests of the API alone.
	CertDir string
	// TokenAuthFile is a --token-auth-file: CSV lines
	// token,user,uid,"group1,group2".
	TokenAuthFile string
	// AnonymousAuth makes requests without credentials system:anonymous
	// rather than 401 (kube-apiserver --anonymous-auth).
	AnonymousAuth bool
	// AnonymousPaths, when not empty, are the only paths where
	// AnonymousAuth applies (DefaultAnonymousPaths in the binary).
	AnonymousPaths []string
	// AuthorizationPolicyFile holds a Policy whose rules add to the
	// built-in ones (bootstrapRules). With authentication on, the built-in
	// rules alone apply when it is empty: system:masters may do anything,
	// as with kube-apiserver's RBAC and no bindings of one's own.
	AuthorizationPolicyFile string
	// DataDir keeps the objects across restarts; empty keeps them in
	// memory only.
	DataDir string
	// StreamingMode defaults to StreamingTranslate.
	StreamingMode StreamingMode
	// MaxStreamingSessions bounds the exec, attach and port-forward
	// sessions proxied at once; past it a request gets 429. Default
	// DefaultMaxStreamingSessions.
	MaxStreamingSessions int
	// StreamingProxyRedirects follows a kubelet's redirect to its
	// runtime's streaming server, as kube-apiserver's gate of that name did
	// until 1.24 (redirects.go); a teaching switch, for kubelets with
	// --redirect-container-streaming. WebSocket sessions that the apiserver
	// translates do not follow: translation came after redirects went.
	StreamingProxyRedirects bool
	// TracingEndpoint, when not empty, is the OTLP/HTTP collector the
	// apiserver's traces go to, and those its receiver takes in (see
	// pkg/tracing); the live view at /ui/ has them either way.
	TracingEndpoint string
	// TracingReceiverAddress, when not empty, is the loopback address of
	// an OTLP/HTTP receiver (as a collector's 4318) for the kubelets' and
	// runtimes' spans, so that the live view shows every hop.
	TracingReceiverAddress string
	// Faults are injected into the exec, attach and port-forward sessions
	// proxied (pkg/faults, the apiserver hop); none by default.
	Faults faults.Set
	// TracingReceiverListener, when set, is already listening on
	// TracingReceiverAddress: one who chose a free port keeps it.
	TracingReceiverListener net.Listener
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// DefaultMaxStreamingSessions is the default Options.MaxStreamingSessions:
// room for the 1000 concurrent sessions the chain is tested with.
const DefaultMaxStreamingSessions = 4096

// shutdownGrace is how long a stopping server lets requests finish.
const shutdownGrace = 5 * time.Second

// Server is the fake kube-apiserver: the core/v1 API for namespaces, nodes
// and pods, a scheduler, and the pods/exec, attach, portforward and log
// proxies to the kubelets.
type Server struct {
	opts  Options
	log   *slog.Logger
	store *registry.Store
	// api serves the generic verbs on the store.
	api         *registry.API
	requestInfo *request.RequestInfoFactory
	kubelet     kubeletClient
	tlsConfig   *tls.Config
	// authn and authorizer are nil when neither CertDir nor TokenAuthFile
	// is set: every request is served, for tests of the API alone.
	authn      authenticator.Request
	authorizer authorizer.UnconditionalAuthorizer
	handler    http.Handler
	// kick wakes the scheduler and the namespace controller.
	kick chan struct{}
	// stopCtx ends with the server: watches return.
	stopCtx context.Context
	stop    context.CancelFunc
	// conns has the hijacked connections, which close when the server
	// stops.
	conns httpserver.Conns
	// traces keeps the recent traces for the live view; tracing is the
	// apiserver's own tracer, which exports to it.
	traces  *tracing.Store
	tracing *tracing.Provider
	// sessions bounds the streaming sessions being proxied. kube-apiserver
	// has no such bound: --max-requests-inflight leaves out long-running
	// requests, these among them. Each session holds two connections and,
	// translated, a WebSocket server and an SPDY client.
	sessions *httpserver.SessionLimit
}

// New builds a server and loads its objects from opts.DataDir.
func New(opts Options) (*Server, error) {
	switch opts.StreamingMode {
	case "":
		opts.StreamingMode = StreamingTranslate
	case StreamingTranslate, StreamingPassthrough, StreamingPerNode:
	default:
		return nil, fmt.Errorf("unknown streaming mode %q: want %q, %q or %q", opts.StreamingMode, StreamingTranslate, StreamingPassthrough, StreamingPerNode)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MaxStreamingSessions == 0 {
		opts.MaxStreamingSessions = DefaultMaxStreamingSessions
	}
	if err := opts.Faults.Check(faults.APIServer); err != nil {
		return nil, err
	}
	s := &Server{
		opts:        opts,
		log:         slog.New(tracing.LogHandler(opts.Logger.Handler())),
		requestInfo: &request.RequestInfoFactory{APIPrefixes: sets.NewString("api", "apis"), GrouplessAPIPrefixes: sets.NewString("api")},
		kick:        make(chan struct{}, 1),
		sessions:    &httpserver.SessionLimit{Who: "the apiserver", Max: int64(opts.MaxStreamingSessions)},
	}
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	s.traces = tracing.NewStore(0)
	var err error
	if s.tracing, err = tracing.New(tracing.Config{Service: "fake-apiserver", Endpoint: opts.TracingEndpoint, Sink: s.traces}); err != nil {
		return nil, err
	}
	if err := s.setUpSecurity(); err != nil {
		s.tracing.Shutdown(context.Background())
		return nil, err
	}
	st, err := registry.Open(opts.DataDir, s.log, s.kickControllers)
	if err != nil {
		s.tracing.Shutdown(context.Background())
		return nil, err
	}
	s.store = st
	s.api = &registry.API{Store: st, BookmarkInterval: time.Minute, Stop: s.stopCtx.Done()}
	s.handler = s.buildHandlerChain(s.routes())
	return s, nil
}

// Handler serves the API; the scheduler and controllers run only in Serve.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe serves on the configured address until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	addr := net.JoinHostPort(s.opts.BindAddress, strconv.Itoa(s.opts.SecurePort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	return s.Serve(ctx, l)
}

// Serve serves on l and runs the scheduler and the namespace controller
// (and the span receiver, when configured) until ctx ends, then stops:
// watches end and hijacked streams close at once, other requests get a few
// seconds. Serve may be called once.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	receiver, err := s.serveTraceReceiver()
	if err != nil {
		l.Close()
		s.tracing.Shutdown(context.Background())
		return err
	}
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    maxHeaderBytes,
		TLSConfig:         s.tlsConfig,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		s.runControllers(s.stopCtx)
	}()
	serveErr := make(chan error, 1)
	go func() {
		if s.tlsConfig != nil {
			// ServeTLS also offers HTTP/2, which kubectl uses for all but
			// upgrades, as with kube-apiserver.
			serveErr <- srv.ServeTLS(l, "", "")
			return
		}
		serveErr <- srv.Serve(l)
	}()
	s.log.Info("serving", "address", l.Addr().String(), "streamingMode", s.opts.StreamingMode, "dataDir", s.opts.DataDir)

	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	// Watches end and hijacked streams close at once; Shutdown gives the
	// other requests shutdownGrace.
	s.stop()
	s.conns.CloseConns()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		srv.Close()
	}
	wg.Wait()
	if receiver != nil {
		receiver.Close()
	}
	// The spans get a grace of their own: a slow request must not leave
	// the exporter running.
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancelFlush()
	s.tracing.Shutdown(flushCtx)
	if err == nil {
		err = <-serveErr
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// serveTraceReceiver serves the OTLP/HTTP receiver on
// Options.TracingReceiverAddress, plain HTTP on loopback as a local
// collector does; nil when there is none.
func (s *Server) serveTraceReceiver() (*http.Server, error) {
	addr := s.opts.TracingReceiverAddress
	if addr == "" {
		return nil, nil
	}
	if host, _, err := net.SplitHostPort(addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return nil, fmt.Errorf("tracing receiver address %q: want a loopback address such as 127.0.0.1:4318", addr)
	}
	l := s.opts.TracingReceiverListener
	if l == nil {
		var err error
		if l, err = net.Listen("tcp", addr); err != nil {
			return nil, fmt.Errorf("tracing receiver: %w", err)
		}
	}
	srv := &http.Server{Handler: s.traces.Receiver(s.opts.TracingEndpoint, s.log), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	s.log.Info("receiving spans", "address", l.Addr().String(), "path", tracing.ReceiverPath)
	return srv, nil
}
