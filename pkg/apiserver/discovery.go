package apiserver

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Legacy (unaggregated) discovery, as kube-apiserver serves it: /api lists
// the core versions, /apis the groups (authorization.k8s.io only, for
// SelfSubjectAccessReview), /api/v1 the resources.
// kubectl asks for aggregated discovery first and, given plain JSON, falls
// back to fetching /api/v1.

// subresource is a discovery entry for res/name.
type subresource struct {
	name  string
	kind  string
	verbs []string
}

// podSubresources are the pods subresources this server serves.
var podSubresources = []subresource{
	{"attach", "PodAttachOptions", []string{"create", "get"}},
	{"binding", "Binding", []string{"create"}},
	{"exec", "PodExecOptions", []string{"create", "get"}},
	{"log", "Pod", []string{"get"}},
	{"portforward", "PodPortForwardOptions", []string{"create", "get"}},
}

var statusVerbs = []string{"get", "patch", "update"}

// serveVersion answers /version like upstream's WriteRawJSON: indented.
func serveVersion(w http.ResponseWriter, r *http.Request) {
	writeRawJSON(w, http.StatusOK, versionInfo())
}

func serveAPIVersions(w http.ResponseWriter, r *http.Request) {
	writeRawCompactJSON(w, &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
		},
	})
}

func serveAPIGroupList(w http.ResponseWriter, r *http.Request) {
	writeRawCompactJSON(w, &metav1.APIGroupList{
		TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
		Groups:   []metav1.APIGroup{authorizationGroup},
	})
}

func (s *Server) serveAPIResourceList(w http.ResponseWriter, r *http.Request) {
	var list []metav1.APIResource
	list = append(list, metav1.APIResource{Name: "bindings", SingularName: "binding", Namespaced: true, Kind: "Binding", Verbs: []string{"create"}})
	for _, res := range s.resources {
		list = append(list, metav1.APIResource{
			Name:               res.gr.Resource,
			SingularName:       res.singular,
			Namespaced:         res.namespaced,
			Kind:               res.kind,
			Verbs:              res.verbs,
			ShortNames:         res.shortNames,
			Categories:         res.categories,
			StorageVersionHash: storageVersionHash("", "v1", res.kind),
		})
		if res.status != nil {
			list = append(list, metav1.APIResource{Name: res.gr.Resource + "/status", Namespaced: res.namespaced, Kind: res.kind, Verbs: statusVerbs})
		}
	}
	for _, sub := range podSubresources {
		list = append(list, metav1.APIResource{Name: "pods/" + sub.name, Namespaced: true, Kind: sub.kind, Verbs: sub.verbs})
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
	writeRawCompactJSON(w, &metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList"},
		GroupVersion: "v1",
		APIResources: list,
	})
}

// storageVersionHash is discovery.StorageVersionHash: the first 8 bytes of
// the SHA-256 of group/version/kind, base64.
func storageVersionHash(group, version, kind string) string {
	sum := sha256.Sum256([]byte(group + "/" + version + "/" + kind))
	return base64.StdEncoding.EncodeToString(sum[:8])
}

// writeRawJSON writes v indented, as responsewriters.WriteRawJSON.
func writeRawJSON(w http.ResponseWriter, code int, v any) {
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(out)
}

// writeRawCompactJSON writes v as the JSON serializer does: compact, one line.
func writeRawCompactJSON(w http.ResponseWriter, v any) {
	out, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(out, '\n'))
}
