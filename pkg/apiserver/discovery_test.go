package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

func TestVersion(t *testing.T) {
	ts := startServer(t, Options{})
	code, header, body := ts.do(t, "GET", "/version?timeout=5s", nil, "")
	var info map[string]string
	if err := json.Unmarshal([]byte(body), &info); err != nil || code != 200 || header.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s %s", code, header.Get("Content-Type"), body)
	}
	if info["major"] != "1" || info["minor"] != "32" || info["gitVersion"] != "v1.32.4+execlab" || !strings.HasPrefix(info["goVersion"], "go") || info["platform"] == "" {
		t.Errorf("version %v", info)
	}
	if !strings.HasPrefix(body, "{\n  \"major\": \"1\",\n  \"minor\": \"32\",\n") {
		t.Errorf("not indented like WriteRawJSON: %q", body)
	}
}

func TestDiscovery(t *testing.T) {
	ts := startServer(t, Options{})
	for path, want := range map[string]string{
		"/api": `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"` + strings.TrimPrefix(ts.url, "http://") + `"}]}` + "\n",
		"/apis": `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"authentication.k8s.io","versions":[{"groupVersion":"authentication.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVersion":"authentication.k8s.io/v1","version":"v1"}},{"name":"authorization.k8s.io","versions":[{"groupVersion":"authorization.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVersion":"authorization.k8s.io/v1","version":"v1"}},` +
			`{"name":"coordination.k8s.io","versions":[{"groupVersion":"coordination.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVersion":"coordination.k8s.io/v1","version":"v1"}}]}` + "\n",
		"/apis/authorization.k8s.io/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"authorization.k8s.io/v1","resources":[{"name":"selfsubjectaccessreviews","singularName":"selfsubjectaccessreview","namespaced":false,"kind":"SelfSubjectAccessReview","verbs":["create"]},` +
			`{"name":"subjectaccessreviews","singularName":"subjectaccessreview","namespaced":false,"kind":"SubjectAccessReview","verbs":["create"]}]}` + "\n",
		"/apis/authentication.k8s.io/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"authentication.k8s.io/v1","resources":[{"name":"selfsubjectreviews","singularName":"selfsubjectreview","namespaced":false,"kind":"SelfSubjectReview","verbs":["create"]},` +
			`{"name":"tokenreviews","singularName":"tokenreview","namespaced":false,"kind":"TokenReview","verbs":["create"]}]}` + "\n",
		"/apis/coordination.k8s.io":    `{"kind":"APIGroup","apiVersion":"v1","name":"coordination.k8s.io","versions":[{"groupVersion":"coordination.k8s.io/v1","version":"v1"}],"preferredVersion":{"groupVersion":"coordination.k8s.io/v1","version":"v1"}}` + "\n",
		"/apis/coordination.k8s.io/v1": `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"coordination.k8s.io/v1","resources":[{"name":"leases","singularName":"lease","namespaced":true,"kind":"Lease","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"storageVersionHash":"gqkMMb/YqFM="}]}` + "\n",
	} {
		// kubectl asks for aggregated discovery first, and gets legacy.
		code, header, body := ts.do(t, "GET", path, http.Header{"Accept": {"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"}}, "")
		if code != 200 || body != want || header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := dc.ServerResourcesForGroupVersion("v1")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]metav1.APIResource{}
	var names []string
	for _, r := range list.APIResources {
		got[r.Name] = r
		names = append(names, r.Name)
	}
	want := "bindings events namespaces namespaces/status nodes nodes/status pods pods/attach pods/binding pods/exec pods/log pods/portforward pods/status"
	if strings.Join(names, " ") != want {
		t.Errorf("resources %v, want %s", names, want)
	}
	if p := got["pods"]; p.Kind != "Pod" || !p.Namespaced || p.SingularName != "pod" || strings.Join(p.ShortNames, ",") != "po" ||
		strings.Join(p.Verbs, ",") != "create,delete,deletecollection,get,list,patch,update,watch" || p.StorageVersionHash != "xPOwRZ+Yhw8=" {
		t.Errorf("pods %+v", p)
	}
	// kube-apiserver's events: the same hash, as it is of the group, version and kind.
	if e := got["events"]; e.Kind != "Event" || !e.Namespaced || strings.Join(e.ShortNames, ",") != "ev" || e.StorageVersionHash != "r2yiGXH7wu8=" {
		t.Errorf("events %+v", e)
	}
	if n := got["nodes"]; n.Namespaced || strings.Join(n.ShortNames, ",") != "no" {
		t.Errorf("nodes %+v", n)
	}
	if e := got["pods/exec"]; e.Kind != "PodExecOptions" || strings.Join(e.Verbs, ",") != "create,get" {
		t.Errorf("pods/exec %+v", e)
	}
	if ns := got["namespaces"]; strings.Join(ns.ShortNames, ",") != "ns" {
		t.Errorf("namespaces %+v", ns)
	}
}

// TestNegotiation: JSON is the only answer; protobuf bodies are read, since
// kubectl sends them.
func TestNegotiation(t *testing.T) {
	ts := startServer(t, Options{})
	path := "/api/v1/namespaces/default"
	for _, c := range []struct {
		accept string
		code   int
		want   string
	}{
		{"application/vnd.kubernetes.protobuf,application/json", 200, `{"kind":"Namespace","apiVersion":"v1"`},
		{"*/*", 200, `{"kind":"Namespace","apiVersion":"v1"`},
		{"application/vnd.kubernetes.protobuf", 406, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"only the following media types are accepted: application/json","reason":"NotAcceptable","code":406}` + "\n"},
		{"application/yaml", 406, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"only the following media types are accepted: application/json","reason":"NotAcceptable","code":406}` + "\n"},
		{"application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io", 200, `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"default"`},
	} {
		code, header, body := ts.do(t, "GET", path, http.Header{"Accept": {c.accept}}, "")
		if code != c.code || !strings.HasPrefix(body, c.want) || header.Get("Content-Type") != "application/json" {
			t.Errorf("Accept %s: %d %s", c.accept, code, body)
		}
	}
	code, _, body := ts.do(t, "POST", "/api/v1/namespaces", http.Header{"Content-Type": {"text/plain"}}, "hello")
	if code != 415 || body != `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the body of the request was in an unknown format - accepted media types include: application/json, application/vnd.kubernetes.protobuf","reason":"UnsupportedMediaType","code":415}`+"\n" {
		t.Errorf("text body: %d %s", code, body)
	}
	// A client configured for protobuf, as kubectl's typed commands are.
	cfg := rest.CopyConfig(ts.config)
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "from-protobuf"}}, metav1.CreateOptions{})
	if err != nil || ns.Labels[corev1.LabelMetadataName] != "from-protobuf" {
		t.Errorf("protobuf create: %v, %v", err, ns)
	}
	// curl gets indented JSON, as from kube-apiserver.
	_, _, body = ts.do(t, "GET", path, http.Header{"User-Agent": {"curl/8.0"}}, "")
	if !strings.HasPrefix(body, "{\n  \"kind\": \"Namespace\",") {
		t.Errorf("curl: %q", body)
	}
}

func TestUnknownPathsAndMethods(t *testing.T) {
	ts := startServer(t, Options{})
	notFound := `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","details":{},"code":404}` + "\n"
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/nothing", notFound},
		{"GET", "/api/v2", notFound},
		{"GET", "/api/v1/secrets", notFound},
		{"GET", "/apis/apps/v1/deployments", notFound},
		{"GET", "/api/v1/namespaces/default/nodes", notFound},
		{"GET", "/api/v1/namespaces/default/pods/p/proxy", notFound},
		{"GET", "/openapi/v3/apis/apps/v1", notFound},
		{"DELETE", "/api", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server does not allow this method on the requested resource","reason":"MethodNotAllowed","details":{},"code":405}` + "\n"},
		{"POST", "/api/v1/namespaces/default/pods/p", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"POST is not supported on resources of kind \"pods\"","reason":"MethodNotAllowed","details":{"kind":"pods"},"code":405}` + "\n"},
		{"DELETE", "/api/v1/namespaces", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"DELETE is not supported on resources of kind \"namespaces\"","reason":"MethodNotAllowed","details":{"kind":"namespaces"},"code":405}` + "\n"},
		{"PUT", "/api/v1/namespaces/default/pods/p/log", `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"PUT is not supported on resources of kind \"pods/log\"","reason":"MethodNotAllowed","details":{"kind":"pods/log"},"code":405}` + "\n"},
	} {
		_, _, body := ts.do(t, c.method, c.path, nil, "")
		if body != c.body {
			t.Errorf("%s %s: %s", c.method, c.path, body)
		}
	}
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if code, _, body := ts.do(t, "GET", path, nil, ""); code != 200 || body != "ok" {
			t.Errorf("%s: %d %q", path, code, body)
		}
	}
	if code, _, body := ts.do(t, "GET", "/debug/pprof/goroutine?debug=1", nil, ""); code != 200 || !strings.HasPrefix(body, "goroutine profile: total ") {
		t.Errorf("pprof: %d %.40q", code, body)
	}
}

// TestOpenAPI checks the documents kubectl reads to decide on server-side
// field validation.
func TestOpenAPI(t *testing.T) {
	ts := startServer(t, Options{})
	dc, err := discovery.NewDiscoveryClientForConfig(ts.config)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := dc.OpenAPISchema()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range doc.GetPaths().GetPath() {
		if p.GetName() != "/api/v1/namespaces/{namespace}/pods/{name}" {
			continue
		}
		ext := p.GetValue().GetPatch().GetVendorExtension()
		for _, param := range p.GetValue().GetPatch().GetParameters() {
			if param.GetParameter().GetNonBodyParameter().GetQueryParameterSubSchema().GetName() == "fieldValidation" && len(ext) == 2 {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no pod PATCH with fieldValidation in %v", doc.GetPaths())
	}
	paths, err := dc.OpenAPIV3().Paths()
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) != 2 {
		t.Errorf("v3 paths %v, want api/v1 and apis/coordination.k8s.io/v1", paths)
	}
	for _, gv := range []string{"api/v1", "apis/coordination.k8s.io/v1"} {
		if _, err := paths[gv].Schema("application/json"); err != nil {
			t.Errorf("v3 %s: %v", gv, err)
		}
	}
}
