package minikubectl

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// resources maps what the user types (pods, pod, po, nodes, Pod…) to API
// resources the way kubectl does: from the server's discovery documents
// (/api, /apis, /api/v1 …), read once per run.
type resources struct {
	mapper  meta.RESTMapper
	dynamic dynamic.Interface
}

func (s *session) resources() (*resources, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(s.config)
	if err != nil {
		return nil, err
	}
	cached := memory.NewMemCacheClient(dc)
	mapper := restmapper.NewShortcutExpander(restmapper.NewDeferredDiscoveryRESTMapper(cached), cached, nil)
	dyn, err := dynamic.NewForConfig(s.config)
	if err != nil {
		return nil, err
	}
	return &resources{mapper: mapper, dynamic: dyn}, nil
}

// forArg maps a resource name as typed ("po", "pods", "node") to its mapping.
func (r *resources) forArg(arg string) (*meta.RESTMapping, error) {
	gvr, err := r.mapper.ResourceFor(schema.ParseGroupResource(arg).WithVersion(""))
	if err != nil {
		return nil, err
	}
	gvk, err := r.mapper.KindFor(gvr)
	if err != nil {
		return nil, err
	}
	return r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

// forArgIn is forArg, with the namespace a request for the resource goes
// to: ns for a namespaced resource, none for a cluster-scoped one.
func (r *resources) forArgIn(arg, ns string) (*meta.RESTMapping, string, error) {
	m, err := r.forArg(arg)
	if err != nil {
		return nil, "", err
	}
	if !namespaced(m) {
		ns = ""
	}
	return m, ns, nil
}

// forKind maps an object's apiVersion and kind to its mapping.
func (r *resources) forKind(gvk schema.GroupVersionKind) (*meta.RESTMapping, error) {
	return r.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
}

func namespaced(m *meta.RESTMapping) bool {
	return m.Scope.Name() == meta.RESTScopeNameNamespace
}

// apiPath is where a resource lives: /api/v1 for the core group,
// /apis/GROUP/VERSION for the others.
func apiPath(gv schema.GroupVersion) string {
	if gv.Group == "" {
		return path.Join("/api", gv.Version)
	}
	return path.Join("/apis", gv.Group, gv.Version)
}

// resourceRequest aims req at the resource of m in namespace ns, and at
// the object name, each when given: /api/v1/namespaces/NS/pods/NAME,
// /apis/GROUP/VERSION/RESOURCE.
func resourceRequest(req *rest.Request, m *meta.RESTMapping, ns, name string) *rest.Request {
	req = req.AbsPath(apiPath(m.GroupVersionKind.GroupVersion()))
	if ns != "" {
		req = req.Namespace(ns)
	}
	req = req.Resource(m.Resource.Resource)
	if name != "" {
		req = req.Name(name)
	}
	return req
}

// kindName is how kubectl names a kind in its messages: "pod",
// "deployment.apps" (printers.NamePrinter).
func kindName(gk schema.GroupKind) string {
	if gk.Group == "" {
		return strings.ToLower(gk.Kind)
	}
	return fmt.Sprintf("%s.%s", strings.ToLower(gk.Kind), gk.Group)
}
