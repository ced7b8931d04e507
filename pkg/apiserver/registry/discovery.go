package registry

import (
	"encoding/json"
	"net/http"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/discovery"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
)

// Legacy (unaggregated) discovery, as kube-apiserver serves it: /api lists
// the core versions, /apis the groups (authentication.k8s.io and
// authorization.k8s.io for their reviews, coordination.k8s.io for the
// nodes' Leases),
// /api/v1 and /apis/GROUP/VERSION the resources. kubectl asks for
// aggregated discovery first and, given plain JSON, falls back to fetching
// each of them.
//
// The documents are written by hand rather than by the handlers of
// k8s.io/apiserver/pkg/endpoints/discovery, which change the bytes on the
// wire: they negotiate, answering 406 to a client that accepts no JSON
// (aggregated discovery alone, protobuf, YAML) where this server answers
// JSON, and indenting on ?pretty; their /apis drops the list's apiVersion
// and gives each group serverAddressByClientCIDRs; their Addresses know
// the client's IP but not the Host it asked, which /api reports.

// ServeDiscovery serves the documents that describe the API: /version,
// discovery and OpenAPI, to GET and HEAD. Any other path is 404.
func ServeDiscovery(w http.ResponseWriter, r *http.Request) {
	var serve func()
	switch r.URL.Path {
	case "/version", "/version/":
		// Indented, as upstream's version handler writes it.
		serve = func() { responsewriters.WriteRawJSON(http.StatusOK, versionInfo(), w) }
	case "/api", "/api/":
		serve = func() { serveAPIVersions(w, r) }
	case "/apis", "/apis/":
		serve = func() {
			list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
			for _, g := range apiGroups {
				list.Groups = append(list.Groups, g.discovery())
			}
			writeDocument(w, list)
		}
	case "/api/v1", "/api/v1/":
		serve = func() { writeDocument(w, coreV1Resources()) }
	case "/openapi/v2":
		serve = func() { serveOpenAPIv2(w, r) }
	case "/openapi/v3", "/openapi/v3/":
		serve = func() { writeBody(w, "application/json", openAPI.v3Index) }
	case "/openapi/v3/api/v1":
		serve = func() { writeBody(w, "application/json", openAPI.v3[corev1.SchemeGroupVersion]) }
	case "/openapi/v3/apis/coordination.k8s.io/v1":
		serve = func() { writeBody(w, "application/json", openAPI.v3[coordinationv1.SchemeGroupVersion]) }
	default:
		serve = serveGroup(w, strings.TrimSuffix(r.URL.Path, "/"))
		if serve == nil {
			WriteError(w, r, ErrNotFoundPath())
			return
		}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		WriteError(w, r, ErrMethodNotAllowedPath())
		return
	}
	serve()
}

// subresource is a discovery entry for res/name.
type subresource struct {
	name  string
	kind  string
	verbs []string
}

// podSubresources are the pods subresources this server serves besides
// status: the apiserver's own handlers serve them, not the API.
var podSubresources = []subresource{
	{"attach", "PodAttachOptions", []string{"create", "get"}},
	{"binding", "Binding", []string{"create"}},
	{"exec", "PodExecOptions", []string{"create", "get"}},
	{"log", "Pod", []string{"get"}},
	{"portforward", "PodPortForwardOptions", []string{"create", "get"}},
}

var statusVerbs = []string{"get", "patch", "update"}

func serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	writeDocument(w, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
}

// coreV1Resources is /api/v1: the core Resources with their status, the
// pods subresources and bindings, by name.
func coreV1Resources() *metav1.APIResourceList {
	list := groupVersionResources(corev1.SchemeGroupVersion)
	list.APIResources = append(list.APIResources, metav1.APIResource{Name: "bindings", SingularName: "binding", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}})
	for _, sub := range podSubresources {
		list.APIResources = append(list.APIResources, metav1.APIResource{Name: "pods/" + sub.name, Namespaced: true, Kind: sub.kind, Verbs: sub.verbs})
	}
	sort.Slice(list.APIResources, func(i, j int) bool { return list.APIResources[i].Name < list.APIResources[j].Name })
	return list
}

// groupVersionResources lists the Resources of gv, with their status, by
// name.
func groupVersionResources(gv schema.GroupVersion) *metav1.APIResourceList {
	var list []metav1.APIResource
	for _, res := range Resources {
		if res.gv != gv {
			continue
		}
		list = append(list, metav1.APIResource{
			Name:               res.gr.Resource,
			SingularName:       res.singular,
			Namespaced:         res.namespaced,
			Kind:               res.kind,
			Verbs:              res.verbs,
			ShortNames:         res.shortNames,
			Categories:         res.categories,
			StorageVersionHash: discovery.StorageVersionHash(gv.Group, gv.Version, res.kind),
		})
		if res.status != nil {
			list = append(list, metav1.APIResource{Name: res.gr.Resource + "/status", Namespaced: res.namespaced, Kind: res.kind, Verbs: statusVerbs})
		}
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	return &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList"},
		GroupVersion: gv.String(),
		APIResources: list,
	}
}

// apiGroup is one group of /apis, with its one version's resources.
type apiGroup struct {
	gv        schema.GroupVersion
	resources func() *metav1.APIResourceList
}

// apiGroups are the groups besides the core one, in kube-apiserver's order:
// the reviews of authentication and authorization (the apiserver's
// reviews.go) and the nodes' Leases.
var apiGroups = []apiGroup{
	{authenticationv1.SchemeGroupVersion, reviewResources(authenticationv1.SchemeGroupVersion, "SelfSubjectReview", "TokenReview")},
	{authorizationv1.SchemeGroupVersion, reviewResources(authorizationv1.SchemeGroupVersion, "SelfSubjectAccessReview", "SubjectAccessReview")},
	{coordinationv1.SchemeGroupVersion, func() *metav1.APIResourceList { return groupVersionResources(coordinationv1.SchemeGroupVersion) }},
}

func (g apiGroup) discovery() metav1.APIGroup {
	version := metav1.GroupVersionForDiscovery{GroupVersion: g.gv.String(), Version: g.gv.Version}
	return metav1.APIGroup{Name: g.gv.Group, Versions: []metav1.GroupVersionForDiscovery{version}, PreferredVersion: version}
}

// serveGroup serves /apis/GROUP and /apis/GROUP/VERSION, or is nil for
// any other path.
func serveGroup(w http.ResponseWriter, path string) func() {
	for _, g := range apiGroups {
		switch path {
		case "/apis/" + g.gv.Group:
			return func() {
				doc := g.discovery()
				doc.TypeMeta = metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"}
				writeDocument(w, &doc)
			}
		case "/apis/" + g.gv.String():
			return func() {
				list := g.resources()
				list.APIVersion = "v1"
				writeDocument(w, list)
			}
		}
	}
	return nil
}

// reviewResources lists review kinds, which are only created: plural and
// singular are the kind in lower case.
func reviewResources(gv schema.GroupVersion, kinds ...string) func() *metav1.APIResourceList {
	return func() *metav1.APIResourceList {
		list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList"}, GroupVersion: gv.String()}
		for _, kind := range kinds {
			singular := strings.ToLower(kind)
			list.APIResources = append(list.APIResources, metav1.APIResource{Name: singular + "s", SingularName: singular, Kind: kind, Verbs: []string{"create"}})
		}
		return list
	}
}

// writeDocument writes a discovery document as the JSON serializer does:
// compact, on one line.
func writeDocument(w http.ResponseWriter, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeBody(w, "application/json", append(out, '\n'))
}

// writeBody answers 200 with body as it is.
func writeBody(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
