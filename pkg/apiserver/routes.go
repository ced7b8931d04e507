package apiserver

import (
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// serveAPI routes everything but health and profiling by the request's
// RequestInfo: discovery and OpenAPI documents, then resources.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	info, ok := request.RequestInfoFrom(r.Context())
	if !ok {
		writeError(w, r, errNotFoundPath())
		return
	}
	if info.IsResourceRequest && info.APIGroup == authorizationGV.Group {
		s.serveAuthorization(w, r, info)
		return
	}
	if info.IsResourceRequest {
		s.serveResource(w, r, info)
		return
	}
	var serve func()
	switch r.URL.Path {
	case "/version", "/version/":
		serve = func() { serveVersion(w, r) }
	case "/api", "/api/":
		serve = func() { serveAPIVersions(w, r) }
	case "/apis", "/apis/":
		serve = func() { serveAPIGroupList(w, r) }
	case "/api/v1", "/api/v1/":
		serve = func() { s.serveAPIResourceList(w, r) }
	case "/apis/authorization.k8s.io", "/apis/authorization.k8s.io/":
		serve = func() { serveAuthorizationGroup(w, r) }
	case "/apis/authorization.k8s.io/v1", "/apis/authorization.k8s.io/v1/":
		serve = func() { serveAuthorizationResources(w, r) }
	case "/openapi/v2":
		serve = func() { serveOpenAPIv2(w, r) }
	case "/openapi/v3", "/openapi/v3/":
		serve = func() { serveDocument(w, "application/json", openAPI.v3Index) }
	case "/openapi/v3/api/v1":
		serve = func() { serveDocument(w, "application/json", openAPI.v3CoreV1) }
	default:
		writeError(w, r, errNotFoundPath())
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, r, errMethodNotAllowedPath())
		return
	}
	serve()
}

// serveResource dispatches a request under /api/v1 by verb and subresource.
func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, info *request.RequestInfo) {
	if info.APIPrefix != "api" || info.APIGroup != "" || info.APIVersion != "v1" {
		writeError(w, r, errNotFoundPath())
		return
	}
	// The name in the path: Name may also come from a metadata.name field
	// selector on a list.
	name := ""
	if len(info.Parts) >= 2 {
		name = info.Parts[1]
	}
	if info.Resource == "bindings" {
		s.serveBindings(w, r, info, name)
		return
	}
	res := s.resources[info.Resource]
	if res == nil || (!res.namespaced && res != s.namespaces && info.Namespace != "") {
		writeError(w, r, errNotFoundPath())
		return
	}
	ns := info.Namespace
	if !res.namespaced {
		ns = ""
	}
	if info.Verb == "watch" {
		// The legacy /api/v1/watch/... paths.
		if r.Method != http.MethodGet || info.Subresource != "" {
			writeError(w, r, errNotFoundPath())
			return
		}
		s.handleList(w, r, res, ns, name, true)
		return
	}
	switch info.Subresource {
	case "":
		s.serveObject(w, r, res, ns, name)
	case "status":
		s.serveStatus(w, r, res, ns, name)
	case "exec", "attach", "portforward", "log", "binding":
		if res != s.pods || len(info.Parts) != 3 {
			writeError(w, r, errNotFoundPath())
			return
		}
		s.servePodSubresource(w, r, info.Subresource, ns, name)
	default:
		writeError(w, r, errNotFoundPath())
	}
}

// serveObject serves a collection (no name) or one object.
func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, res *resource, ns, name string) {
	if name == "" {
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.handleList(w, r, res, ns, "", false)
		case http.MethodPost:
			s.handleCreate(w, r, res, ns)
		case http.MethodDelete:
			if !hasVerb(res, "deletecollection") {
				methodNotAllowed(w, r, res.gr)
				return
			}
			s.handleDeleteCollection(w, r, res, ns)
		default:
			methodNotAllowed(w, r, res.gr)
		}
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.handleGet(w, r, res, ns, name)
	case http.MethodPut:
		s.handleUpdate(w, r, res, res.strategy, ns, name)
	case http.MethodPatch:
		s.handlePatch(w, r, res, res.strategy, ns, name)
	case http.MethodDelete:
		s.handleDelete(w, r, res, ns, name)
	default:
		methodNotAllowed(w, r, res.gr)
	}
}

// serveStatus serves the status subresource: get, update, patch.
func (s *Server) serveStatus(w http.ResponseWriter, r *http.Request, res *resource, ns, name string) {
	if res.status == nil || name == "" {
		writeError(w, r, errNotFoundPath())
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.handleGet(w, r, res, ns, name)
	case http.MethodPut:
		s.handleUpdate(w, r, res, res.status, ns, name)
	case http.MethodPatch:
		s.handlePatch(w, r, res, res.status, ns, name)
	default:
		methodNotAllowed(w, r, res.gr)
	}
}

// servePodSubresource serves the pod subresources that are not status.
func (s *Server) servePodSubresource(w http.ResponseWriter, r *http.Request, sub, ns, name string) {
	switch sub {
	case "log":
		if r.Method != http.MethodGet {
			methodNotAllowed(w, r, corev1.Resource("pods/log"))
			return
		}
		s.serveLog(w, r, ns, name)
	case "binding":
		if r.Method != http.MethodPost {
			methodNotAllowed(w, r, corev1.Resource("pods/binding"))
			return
		}
		s.handleBinding(w, r, ns, name)
	default:
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			methodNotAllowed(w, r, corev1.Resource("pods/"+sub))
			return
		}
		s.serveConnect(w, r, sub, ns, name)
	}
}

// serveBindings serves POST /api/v1/namespaces/{ns}/bindings, the older
// form of pods/binding.
func (s *Server) serveBindings(w http.ResponseWriter, r *http.Request, info *request.RequestInfo, name string) {
	if info.Namespace == "" || name != "" || info.Subresource != "" {
		writeError(w, r, errNotFoundPath())
		return
	}
	if r.Method != http.MethodPost {
		methodNotAllowed(w, r, corev1.Resource("bindings"))
		return
	}
	s.handleBinding(w, r, info.Namespace, "")
}

func hasVerb(res *resource, verb string) bool {
	for _, v := range res.verbs {
		if v == verb {
			return true
		}
	}
	return false
}
