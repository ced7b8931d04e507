package server

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/streaming"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/execlab/execlab/pkg/tracing"
)

// HostInterface is what the kubelet API needs of the kubelet, as upstream's
// interface of the same name: the pods bound to the node, the runtime's
// streaming URL of a session, container logs and the sync loop's health.
type HostInterface interface {
	// GetPodByName returns the pod bound to the node with that name.
	GetPodByName(namespace, name string) (*v1.Pod, bool)
	// GetPods lists the pods bound to the node.
	GetPods() []*v1.Pod
	// GetExec asks the runtime for an exec session in the container;
	// podUID, when not empty, picks the container by pod UID.
	GetExec(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, cmd []string, streamOpts StreamOptions) (*url.URL, error)
	// GetAttach asks the runtime for an attach session to the container.
	GetAttach(ctx context.Context, pod *v1.Pod, podUID types.UID, containerName string, streamOpts StreamOptions) (*url.URL, error)
	// GetPortForward asks the runtime for a port-forward session into the
	// pod; ports is empty when the client names them per stream.
	GetPortForward(ctx context.Context, pod *v1.Pod, ports []int32) (*url.URL, error)
	// GetKubeletContainerLogs copies the container's log as opts ask; a nil
	// writer leaves that stream out.
	GetKubeletContainerLogs(ctx context.Context, pod *v1.Pod, containerName string, opts *v1.PodLogOptions, stdout, stderr io.Writer) error
	// SyncLoopHealthCheck fails when the sync loop is stuck.
	SyncLoopHealthCheck(req *http.Request) error
}

// Options says how to serve the kubelet API.
type Options struct {
	// TLS, when set, serves the API over TLS (see LoadServingTLS).
	TLS *tls.Config
	// Auth, when set, authenticates and authorizes every request (see
	// NewAuth); unset, the API serves anyone, as upstream's without auth.
	Auth *Auth
	// MaxStreamingSessions bounds the exec, attach and port-forward
	// sessions served at once; past it a request gets 429. Default
	// streaming.DefaultMaxSessions. Upstream has no such bound.
	MaxStreamingSessions int
	// Logger receives the request log and proxy errors; default
	// slog.Default().
	Logger *slog.Logger
	// TracerProvider traces the requests served (pkg/tracing); nil traces
	// none.
	TracerProvider trace.TracerProvider
	// Faults are injected into the exec, attach and port-forward sessions
	// served (pkg/faults, the kubelet hop); none by default.
	Faults faults.Set
	// RedirectContainerStreaming answers exec, attach and port-forward with
	// a 302 to the runtime's streaming URL instead of proxying the stream,
	// as the kubelet's --redirect-container-streaming did until Kubernetes
	// 1.20 removed it: a teaching switch (docs/labs).
	RedirectContainerStreaming bool
}

const podsPath = "/pods"

// Server is the kubelet API, laid out as upstream's pkg/kubelet/server/server.go
// (Server, NewServer, ListenAndServeKubeletServer): go-restful web services
// on one container whose filters (authentication and authorization) run for
// every handler, served with upstream's timeouts.
type Server struct {
	host     HostInterface
	log      *slog.Logger
	tls      *tls.Config
	cont     *filteringContainer
	sessions *httpserver.SessionLimit
	conns    httpserver.Conns
	http     *http.Server
	faults   faults.Set
	redirect bool
}

// filteringContainer makes Handle go through the container's filters too,
// as upstream's type of the same name.
type filteringContainer struct {
	*restful.Container
}

func (c *filteringContainer) Handle(path string, handler http.Handler) {
	c.HandleWithFilter(path, handler)
}

// NewServer lays out the kubelet API for host. Nothing listens until Serve.
func NewServer(host HostInterface, opts Options) *Server {
	if opts.MaxStreamingSessions == 0 {
		opts.MaxStreamingSessions = streaming.DefaultMaxSessions
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cont := restful.NewContainer()
	// go-restful would answer a panic with a stack trace; let net/http log it.
	cont.DoNotRecover(true)
	s := &Server{
		host:     host,
		log:      log,
		tls:      opts.TLS,
		cont:     &filteringContainer{Container: cont},
		sessions: &httpserver.SessionLimit{Who: "the kubelet", Max: int64(opts.MaxStreamingSessions)},
		faults:   opts.Faults,
		redirect: opts.RedirectContainerStreaming,
	}
	if opts.Auth != nil {
		cont.Filter(opts.Auth.filter(log))
	}
	s.InstallAuthNotRequiredHandlers()
	s.InstallDebuggingHandlers()
	refuse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "the kubelet is shutting down", http.StatusServiceUnavailable)
	})
	if opts.TracerProvider == nil {
		opts.TracerProvider = noop.NewTracerProvider()
	}
	// The apiserver's trace context is continued (upstream's kubelet
	// starts its own, linked): only the apiserver may call this API.
	traced := otelhttp.NewHandler(s, "kubelet", otelhttp.WithTracerProvider(opts.TracerProvider),
		otelhttp.WithPropagators(tracing.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
	s.http = &http.Server{
		Handler:        s.conns.Track(traced, refuse),
		IdleTimeout:    90 * time.Second,
		ReadTimeout:    4 * 60 * time.Minute,
		WriteTimeout:   4 * 60 * time.Minute,
		MaxHeaderBytes: 1 << 20,
	}
	return s
}

// Serve serves the API on ln, over TLS when Options.TLS is set, until Stop.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	err := s.http.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

// Stop closes the listener and every connection, those of exec, attach and
// port-forward sessions (hijacked, so unknown to net/http) too, then waits
// for the handlers: sessions in flight end.
func (s *Server) Stop() {
	_ = s.http.Close()
	s.conns.CloseAll()
}

// ServeHTTP serves one request and logs it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := httpserver.Record(w)
	s.cont.ServeHTTP(rec, r)
	s.log.DebugContext(r.Context(), "request", "method", r.Method, "path", r.URL.Path, "status", rec.Status(), "duration", time.Since(start))
}

// InstallAuthNotRequiredHandlers registers /healthz and /pods.
func (s *Server) InstallAuthNotRequiredHandlers() {
	healthz.InstallHandler(s.cont, healthz.PingHealthz, healthz.NamedCheck("syncloop", s.host.SyncLoopHealthCheck))

	ws := new(restful.WebService)
	ws.Filter(getOnlyFilter)
	ws.Path(podsPath).Produces(restful.MIME_JSON)
	ws.Route(ws.GET("").To(s.servePods).Operation("getPods"))
	s.cont.Add(ws)
}

// InstallDebuggingHandlers registers exec, attach, port-forward, container
// logs and profiling (upstream's InstallAuthRequiredHandlers and
// InstallProfilingHandler). Every streaming session counts against the
// session limit.
func (s *Server) InstallDebuggingHandlers() {
	for _, sub := range []struct{ subresource, op string }{{"exec", "getExec"}, {"attach", "getAttach"}} {
		ws := new(restful.WebService).Path("/" + sub.subresource)
		handle := s.limitSessions(s.withFaults(sub.subresource, s.serveStream(sub.subresource)))
		for _, p := range []string{"/{podNamespace}/{podID}/{containerName}", "/{podNamespace}/{podID}/{uid}/{containerName}"} {
			ws.Route(ws.GET(p).To(handle).Operation(sub.op))
			ws.Route(ws.POST(p).To(handle).Operation(sub.op))
		}
		s.cont.Add(ws)
	}

	ws := new(restful.WebService).Path("/portForward")
	handle := s.limitSessions(s.withFaults("portforward", s.servePortForward))
	for _, p := range []string{"/{podNamespace}/{podID}", "/{podNamespace}/{podID}/{uid}"} {
		ws.Route(ws.GET(p).To(handle).Operation("getPortForward"))
		ws.Route(ws.POST(p).To(handle).Operation("getPortForward"))
	}
	s.cont.Add(ws)

	ws = new(restful.WebService)
	ws.Filter(getOnlyFilter)
	ws.Path("/containerLogs")
	ws.Route(ws.GET("/{podNamespace}/{podID}/{containerName}").To(s.serveContainerLogs).Operation("getContainerLogs"))
	s.cont.Add(ws)

	profiles := httpserver.Pprof()
	pprof := func(req *restful.Request, resp *restful.Response) { profiles.ServeHTTP(resp, req.Request) }
	ws = new(restful.WebService).Path(httpserver.PprofPath)
	ws.Filter(getOnlyFilter)
	ws.Route(ws.GET("/{subpath:*}").To(pprof)).Doc("pprof endpoint")
	// go-restful's wildcard needs a path segment; serve the index too.
	ws.Route(ws.GET("").To(pprof)).Doc("pprof index")
	s.cont.Add(ws)
}

// limitSessions counts the request of a streaming endpoint against the
// session limit until its handler returns, which for an upgraded one is
// when the session ends. Upstream's kubelet only counts them (server.go,
// HTTPInflightRequests); past the bound a request gets 429 and nothing is
// asked of the runtime.
func (s *Server) limitSessions(route restful.RouteFunction) restful.RouteFunction {
	return func(req *restful.Request, resp *restful.Response) {
		if err := s.sessions.Enter(); err != nil {
			streaming.WriteError(resp.ResponseWriter, err)
			return
		}
		defer s.sessions.Leave()
		route(req, resp)
	}
}

// withFaults puts the faults of the kubelet hop on a streaming route's
// sessions of kind; without any it is the route itself.
func (s *Server) withFaults(kind string, route restful.RouteFunction) restful.RouteFunction {
	if len(s.faults.At(faults.Kubelet)) == 0 {
		return route
	}
	writeError := func(w http.ResponseWriter, _ *http.Request, err error) { streaming.WriteError(w, err) }
	return func(req *restful.Request, resp *restful.Response) {
		next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			req.Request, resp.ResponseWriter = r, w
			route(req, resp)
		})
		faults.Wrap(faults.Kubelet, s.faults, kind, next, writeError).ServeHTTP(resp.ResponseWriter, req.Request)
	}
}

// getOnlyFilter answers anything but GET with 405 (GETOnlyRestfulFilter).
func getOnlyFilter(req *restful.Request, resp *restful.Response, chain *restful.FilterChain) {
	if req.Request.Method == http.MethodGet {
		chain.ProcessFilter(req, resp)
		return
	}
	resp.Header().Set("Allow", http.MethodGet)
	_ = resp.WriteErrorString(http.StatusMethodNotAllowed, "Method Not Allowed")
}

// servePods answers the pods bound to this node as a v1 PodList, sorted by
// namespace and name (upstream's getPods).
func (s *Server) servePods(req *restful.Request, resp *restful.Response) {
	pods := s.host.GetPods()
	sort.Slice(pods, func(i, j int) bool {
		if pods[i].Namespace != pods[j].Namespace {
			return pods[i].Namespace < pods[j].Namespace
		}
		return pods[i].Name < pods[j].Name
	})
	list := &v1.PodList{}
	for _, pod := range pods {
		list.Items = append(list.Items, *pod)
	}
	data, err := runtime.Encode(scheme.Codecs.LegacyCodec(v1.SchemeGroupVersion), list)
	if err != nil {
		_ = resp.WriteError(http.StatusInternalServerError, err)
		return
	}
	resp.Header().Set(restful.HEADER_ContentType, restful.MIME_JSON)
	resp.WriteHeader(http.StatusOK)
	if _, err := resp.Write(data); err != nil {
		s.log.Debug("write /pods", "err", err)
	}
}
