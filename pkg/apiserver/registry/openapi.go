package registry

import (
	"cmp"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"github.com/munnerz/goautoneg"
	"google.golang.org/protobuf/proto"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// OpenAPI, only as far as kubectl needs it. Before `kubectl apply`,
// `create` or `edit` send an object, kubectl asks whether the PATCH
// operation of its kind takes the fieldValidation parameter (kubectl 1.27
// and later in /openapi/v3, older ones and the fallback in /openapi/v2); if
// so it leaves validation to the server (fieldValidation=Strict), else it
// wants full schemas to validate with and fails without them. So the
// documents describe the object paths with their PATCH operation and no
// schemas, and kubectl computes patches from its built-in types.

// The OpenAPI v2 protobuf media types: kubectl asks for the deprecated
// one; kube-openapi's handler answers with the other.
const (
	openAPISubTypeProtobufDeprecated = "com.github.proto-openapi.spec.v2@v1.0+protobuf"
	openAPISubTypeProtobuf           = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
)

// openAPIPaths are the object paths with a PATCH operation, by kind.
var openAPIPaths = []struct {
	gv         schema.GroupVersion
	kind, path string
}{
	{corev1.SchemeGroupVersion, "Namespace", "/api/v1/namespaces/{name}"},
	{corev1.SchemeGroupVersion, "Namespace", "/api/v1/namespaces/{name}/status"},
	{corev1.SchemeGroupVersion, "Node", "/api/v1/nodes/{name}"},
	{corev1.SchemeGroupVersion, "Node", "/api/v1/nodes/{name}/status"},
	{corev1.SchemeGroupVersion, "Pod", "/api/v1/namespaces/{namespace}/pods/{name}"},
	{corev1.SchemeGroupVersion, "Pod", "/api/v1/namespaces/{namespace}/pods/{name}/status"},
	{coordinationv1.SchemeGroupVersion, "Lease", "/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"},
}

// openAPIDocs are the documents, computed once: v3's by group version.
type openAPIDocs struct {
	v2JSON, v2Protobuf []byte
	v3Index            []byte
	v3                 map[schema.GroupVersion][]byte
}

var openAPI = buildOpenAPI()

func buildOpenAPI() openAPIDocs {
	// The same PATCH operation in both versions; v2 parameters carry
	// their type, v3 ones a schema.
	patch := func(gv schema.GroupVersion, kind, path string, param func(name string) map[string]any) map[string]any {
		// As upstream names them: patchCoreV1NamespacedPodStatus.
		group, _, _ := strings.Cut(cmp.Or(gv.Group, "core"), ".")
		operation := "patch" + strings.ToUpper(group[:1]) + group[1:] + strings.ToUpper(gv.Version[:1]) + gv.Version[1:]
		if strings.Contains(path, "{namespace}") {
			operation += "Namespaced"
		}
		operation += kind
		if strings.HasSuffix(path, "/status") {
			operation += "Status"
		}
		var params []map[string]any
		for _, name := range []string{"dryRun", "fieldManager", "fieldValidation", "force"} {
			params = append(params, param(name))
		}
		return map[string]any{"patch": map[string]any{
			"operationId":                     operation,
			"parameters":                      params,
			"responses":                       map[string]any{"200": map[string]any{"description": "OK"}},
			"x-kubernetes-action":             "patch",
			"x-kubernetes-group-version-kind": map[string]string{"group": gv.Group, "version": gv.Version, "kind": kind},
		}}
	}
	v2Paths, v3Paths := map[string]any{}, map[schema.GroupVersion]map[string]any{}
	for _, p := range openAPIPaths {
		v2Paths[p.path] = patch(p.gv, p.kind, p.path, func(name string) map[string]any {
			return map[string]any{"name": name, "in": "query", "type": "string", "uniqueItems": true}
		})
		if v3Paths[p.gv] == nil {
			v3Paths[p.gv] = map[string]any{}
		}
		v3Paths[p.gv][p.path] = patch(p.gv, p.kind, p.path, func(name string) map[string]any {
			return map[string]any{"name": name, "in": "query", "schema": map[string]any{"type": "string"}}
		})
	}
	info := map[string]string{"title": "Kubernetes", "version": versionInfo().GitVersion}
	var docs openAPIDocs
	docs.v2JSON = mustJSON(map[string]any{"swagger": "2.0", "info": info, "paths": v2Paths})
	doc, err := openapiv2.ParseDocument(docs.v2JSON)
	if err != nil {
		panic(fmt.Sprintf("openapi v2 document: %v", err))
	}
	if docs.v2Protobuf, err = proto.Marshal(doc); err != nil {
		panic(fmt.Sprintf("openapi v2 document: %v", err))
	}
	docs.v3 = map[schema.GroupVersion][]byte{}
	index := map[string]any{}
	for gv, paths := range v3Paths {
		doc := mustJSON(map[string]any{"openapi": "3.0.0", "info": info, "paths": paths})
		docs.v3[gv] = doc
		key := "api/" + gv.Version
		if gv.Group != "" {
			key = "apis/" + gv.String()
		}
		index[key] = map[string]string{"serverRelativeURL": fmt.Sprintf("/openapi/v3/%s?hash=%X", key, sha512.Sum512(doc))}
	}
	docs.v3Index = mustJSON(map[string]any{"paths": index})
	return docs
}

func mustJSON(v any) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("openapi document: %v", err))
	}
	return out
}

// serveOpenAPIv2 answers in the first media type of the Accept header it
// has, as kube-openapi's handler does, or 406.
func serveOpenAPIv2(w http.ResponseWriter, r *http.Request) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		accept = "*/*"
	}
	w.Header().Add("Vary", "Accept")
	for _, clause := range goautoneg.ParseAccept(accept) {
		if clause.Type != "application" && clause.Type != "*" {
			continue
		}
		switch clause.SubType {
		case "json", "*":
			writeBody(w, "application/json", openAPI.v2JSON)
			return
		case openAPISubTypeProtobufDeprecated, openAPISubTypeProtobuf:
			writeBody(w, "application/"+openAPISubTypeProtobuf, openAPI.v2Protobuf)
			return
		}
	}
	w.WriteHeader(http.StatusNotAcceptable)
}
