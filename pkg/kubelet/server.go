package kubelet

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"time"

	"github.com/emicklei/go-restful/v3"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/execlab/execlab/internal/httpserver"
)

const (
	podsPath      = "/pods"
	pprofBasePath = "/debug/pprof/"
)

// server is the kubelet API, laid out as pkg/kubelet/server/server.go:
// go-restful web services on one container whose filters (authentication
// and authorization) run for every handler.
type server struct {
	k        *Kubelet
	cont     *filteringContainer
	sessions *httpserver.SessionLimit
}

// filteringContainer makes Handle go through the container's filters too,
// as upstream's type of the same name.
type filteringContainer struct {
	*restful.Container
}

func (c *filteringContainer) Handle(path string, handler http.Handler) {
	c.HandleWithFilter(path, handler)
}

func (k *Kubelet) newServer() *server {
	cont := restful.NewContainer()
	// go-restful would answer a panic with a stack trace; let net/http log it.
	cont.DoNotRecover(true)
	s := &server{k: k, cont: &filteringContainer{Container: cont}, sessions: &httpserver.SessionLimit{Who: "the kubelet", Max: int64(k.cfg.MaxStreamingSessions)}}
	if k.cfg.TLS != nil {
		cont.Filter(authFilter)
	}
	s.installAuthNotRequiredHandlers()
	s.installProfilingHandler()
	s.installAuthRequiredHandlers()
	return s
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rw := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
	s.cont.ServeHTTP(rw, r)
	s.k.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", rw.status, "duration", time.Since(start))
}

// installAuthNotRequiredHandlers registers /healthz and /pods.
func (s *server) installAuthNotRequiredHandlers() {
	healthz.InstallHandler(s.cont, healthz.PingHealthz, healthz.NamedCheck("syncloop", s.k.syncLoopHealthCheck))

	ws := new(restful.WebService)
	ws.Filter(getOnlyFilter)
	ws.Path(podsPath).Produces(restful.MIME_JSON)
	ws.Route(ws.GET("").To(s.getPods).Operation("getPods"))
	s.cont.Add(ws)
}

// installAuthRequiredHandlers registers the debugging handlers: exec,
// attach, port-forward and container logs.
func (s *server) installAuthRequiredHandlers() {
	for _, sub := range []struct {
		path   string
		handle restful.RouteFunction
		op     string
	}{
		{"/exec", limitSessions(s.sessions, s.getExec), "getExec"},
		{"/attach", limitSessions(s.sessions, s.getAttach), "getAttach"},
	} {
		ws := new(restful.WebService).Path(sub.path)
		for _, p := range []string{"/{podNamespace}/{podID}/{containerName}", "/{podNamespace}/{podID}/{uid}/{containerName}"} {
			ws.Route(ws.GET(p).To(sub.handle).Operation(sub.op))
			ws.Route(ws.POST(p).To(sub.handle).Operation(sub.op))
		}
		s.cont.Add(ws)
	}

	ws := new(restful.WebService).Path("/portForward")
	for _, p := range []string{"/{podNamespace}/{podID}", "/{podNamespace}/{podID}/{uid}"} {
		ws.Route(ws.GET(p).To(limitSessions(s.sessions, s.getPortForward)).Operation("getPortForward"))
		ws.Route(ws.POST(p).To(limitSessions(s.sessions, s.getPortForward)).Operation("getPortForward"))
	}
	s.cont.Add(ws)

	ws = new(restful.WebService)
	ws.Filter(getOnlyFilter)
	ws.Path("/containerLogs")
	ws.Route(ws.GET("/{podNamespace}/{podID}/{containerName}").To(s.getContainerLogs).Operation("getContainerLogs"))
	s.cont.Add(ws)
}

// installProfilingHandler serves net/http/pprof under /debug/pprof/.
func (s *server) installProfilingHandler() {
	handle := func(req *restful.Request, resp *restful.Response) {
		switch strings.TrimPrefix(req.Request.URL.Path, pprofBasePath) {
		case "profile":
			pprof.Profile(resp, req.Request)
		case "symbol":
			pprof.Symbol(resp, req.Request)
		case "cmdline":
			pprof.Cmdline(resp, req.Request)
		case "trace":
			pprof.Trace(resp, req.Request)
		default:
			pprof.Index(resp, req.Request)
		}
	}
	ws := new(restful.WebService).Path(pprofBasePath)
	ws.Filter(getOnlyFilter)
	ws.Route(ws.GET("/{subpath:*}").To(handle)).Doc("pprof endpoint")
	// go-restful's wildcard needs a path segment; serve the index too.
	ws.Route(ws.GET("").To(handle)).Doc("pprof index")
	s.cont.Add(ws)
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

// getPods answers the pods bound to this node as a v1 PodList.
func (s *server) getPods(req *restful.Request, resp *restful.Response) {
	pods := s.k.boundPods()
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
		s.k.log.Debug("write /pods", "err", err)
	}
}

// syncLoopHealthCheck fails when the sync loop has not run for twice the
// sync period, and at least five minutes (Kubelet.SyncLoopHealthCheck).
func (k *Kubelet) syncLoopHealthCheck(*http.Request) error {
	limit := max(2*k.cfg.SyncFrequency, 5*time.Minute)
	last := k.lastSyncLoop.Load()
	if last != 0 && time.Since(time.Unix(0, last)) > limit {
		return fmt.Errorf("sync Loop took longer than expected")
	}
	return nil
}

// statusRecorder remembers the status code for the request log. It keeps
// the writer's Flusher and Hijacker, which streaming needs.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("%T cannot be hijacked", r.ResponseWriter)
	}
	r.status = http.StatusSwitchingProtocols
	return h.Hijack()
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
