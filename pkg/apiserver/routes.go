package apiserver

import (
	"net/http"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/server/healthz"
	proxymetrics "k8s.io/apiserver/pkg/util/proxy/metrics"
	"k8s.io/component-base/metrics/legacyregistry"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/apiserver/registry"
	"github.com/execlab/execlab/pkg/tracing"
)

// routes is the server's mux: health, metrics, profiling, the live view of
// sessions (pkg/tracing), and the API. The health handlers are upstream's
// (k8s.io/apiserver/pkg/server/healthz), with the ping check alone, as
// kube-apiserver installs them; /metrics is upstream's registry
// (component-base's legacyregistry) with the streaming metrics this server
// counts (k8s.io/apiserver/pkg/util/proxy/metrics).
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	healthz.InstallHandler(mux)
	healthz.InstallLivezHandler(mux)
	healthz.InstallReadyzHandler(mux)
	proxymetrics.Register()
	mux.Handle("/metrics", legacyregistry.Handler())
	mux.Handle(httpserver.PprofPath, httpserver.Pprof())
	mux.Handle(tracing.UIPath, s.traces.UI())
	mux.HandleFunc("/", s.serveAPI)
	return mux
}

// serveAPI routes everything but health and profiling by the request's
// RequestInfo: the documents that describe the API, the reviews of
// authentication and authorization (reviews.go), and the resources of /api/v1 and /apis/coordination.k8s.io/v1.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	info, ok := request.RequestInfoFrom(r.Context())
	switch {
	case !ok:
		registry.WriteError(w, r, registry.ErrNotFoundPath())
	case !info.IsResourceRequest:
		registry.ServeDiscovery(w, r)
	case info.APIGroup == authorizationv1.GroupName, info.APIGroup == authenticationv1.GroupName:
		s.serveReview(w, r, info)
	default:
		s.serveResource(w, r, info)
	}
}

// serveResource serves a request for a resource: the pods subresources an
// exec, a log or a scheduler's binding goes to are this package's, the rest
// is the generic API's.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info *request.RequestInfo) {
	// The core group is /api's, the others /apis'.
	if (info.APIPrefix == "api") != (info.APIGroup == "") {
		registry.WriteError(w, r, registry.ErrNotFoundPath())
		return
	}
	// The name in the path: Name may also come from a metadata.name field
	// selector on a list.
	name := ""
	if len(info.Parts) >= 2 {
		name = info.Parts[1]
	}
	gv := schema.GroupVersion{Group: info.APIGroup, Version: info.APIVersion}
	if info.Resource == "bindings" && gv == corev1.SchemeGroupVersion {
		s.serveBindings(w, r, info, name)
		return
	}
	res := registry.Lookup(gv, info.Resource)
	if res == nil || (!res.Namespaced() && res != registry.Namespaces && info.Namespace != "") {
		registry.WriteError(w, r, registry.ErrNotFoundPath())
		return
	}
	ns := info.Namespace
	if !res.Namespaced() {
		ns = ""
	}
	watch := info.Verb == "watch" // the legacy /api/v1/watch/... paths
	if res == registry.Pods && !watch && len(info.Parts) == 3 {
		switch info.Subresource {
		case "exec", "attach", "portforward":
			s.serveConnect(w, r, info.Subresource, ns, name)
			return
		case "log":
			s.serveLog(w, r, ns, name)
			return
		case "binding":
			if r.Method != http.MethodPost {
				registry.MethodNotAllowed(w, r, corev1.Resource("pods/binding"))
				return
			}
			s.handleBinding(w, r, ns, name)
			return
		}
	}
	s.api.Serve(w, r, res, watch, info.Subresource, ns, name)
}

// serveBindings serves POST /api/v1/namespaces/{ns}/bindings, the older
// form of pods/binding.
func (s *Server) serveBindings(w http.ResponseWriter, r *http.Request, info *request.RequestInfo, name string) {
	if info.Namespace == "" || name != "" || info.Subresource != "" {
		registry.WriteError(w, r, registry.ErrNotFoundPath())
		return
	}
	if r.Method != http.MethodPost {
		registry.MethodNotAllowed(w, r, corev1.Resource("bindings"))
		return
	}
	s.handleBinding(w, r, info.Namespace, "")
}
