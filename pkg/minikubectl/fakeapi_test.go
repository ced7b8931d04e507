package minikubectl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// fakeAPI is just enough of an API server for mini-kubectl: discovery,
// /version, pods (get, list as Table or plain, create, update, delete, watch
// by name), nodes (plain lists only, to exercise the NAME/AGE fallback) and
// the pods subresources, which tests plug in through upgrade.
type fakeAPI struct {
	t          *testing.T
	server     *httptest.Server
	kubeconfig string

	mu    sync.Mutex
	pods  map[string]*corev1.Pod // by namespace/name
	nodes []corev1.Node
	rv    int
	// calls records each subresource and watch request as
	// "METHOD PATH?QUERY" (and the WebSocket subprotocols asked for).
	calls []string
	// upgrade serves pods/exec, pods/attach and pods/portforward.
	upgrade http.HandlerFunc
	// logs answers pods/log.
	logs string
}

func newFakeAPI(t *testing.T) *fakeAPI {
	t.Helper()
	api := &fakeAPI{t: t, pods: map[string]*corev1.Pod{}}
	api.server = httptest.NewServer(http.HandlerFunc(api.serve))
	t.Cleanup(api.server.Close)
	api.kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, api.kubeconfig, map[string]string{"fake": api.server.URL}, "fake", "default")
	return api
}

// writeKubeconfig writes one context per server, each in namespace ns
// (or ns-CONTEXT when ns is empty), current being current.
func writeKubeconfig(t *testing.T, path string, servers map[string]string, current, ns string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{}
		contextNS := ns
		if contextNS == "" {
			contextNS = "ns-" + name
		}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: contextNS}
	}
	cfg.CurrentContext = current
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

// result is what one in-process run left behind.
type result struct {
	stdout, stderr string
	code           int
}

// run runs mini-kubectl against the fake API with stdin.
func (api *fakeAPI) run(stdin io.Reader, args ...string) result {
	api.t.Helper()
	return runKubectl(api.t, stdin, append([]string{"--kubeconfig", api.kubeconfig}, args...)...)
}

func runKubectl(t *testing.T, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := Run(ctx, args, IOStreams{In: stdin, Out: &stdout, ErrOut: &stderr})
	if ctx.Err() != nil {
		t.Fatalf("mini-kubectl %v did not finish within a minute; stderr: %s", args, stderr.String())
	}
	return result{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func (api *fakeAPI) addPod(pod *corev1.Pod) {
	api.mu.Lock()
	defer api.mu.Unlock()
	if pod.Namespace == "" {
		pod.Namespace = "default"
	}
	api.rv++
	pod.ResourceVersion = fmt.Sprint(api.rv)
	pod.UID = types.UID("uid-" + pod.Name)
	api.pods[pod.Namespace+"/"+pod.Name] = pod
}

func (api *fakeAPI) pod(ns, name string) *corev1.Pod {
	api.mu.Lock()
	defer api.mu.Unlock()
	return api.pods[ns+"/"+name]
}

func (api *fakeAPI) record(r *http.Request) {
	api.mu.Lock()
	defer api.mu.Unlock()
	call := r.Method + " " + r.URL.Path
	if r.URL.RawQuery != "" {
		call += "?" + r.URL.RawQuery
	}
	if p := r.Header.Get("Sec-WebSocket-Protocol"); p != "" {
		call += " [" + p + "]"
	}
	api.calls = append(api.calls, call)
}

// setUpgrade changes how the subresources are served; sessions of an
// earlier run may still be winding down on the server.
func (api *fakeAPI) setUpgrade(h http.HandlerFunc) {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.upgrade = h
}

func (api *fakeAPI) resetCalls() {
	api.mu.Lock()
	defer api.mu.Unlock()
	api.calls = nil
}

func (api *fakeAPI) recorded() []string {
	api.mu.Lock()
	defer api.mu.Unlock()
	return append([]string(nil), api.calls...)
}

var podsResource = corev1.Resource("pods")

func runningPod(name string, containers ...string) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: "10.0.0.7"},
		Spec:       corev1.PodSpec{NodeName: "node-1", RestartPolicy: corev1.RestartPolicyAlways},
	}
	for _, c := range containers {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: c, Image: "busybox"})
	}
	return pod
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	s := err.Status()
	s.Kind, s.APIVersion = "Status", "v1"
	writeJSON(w, int(s.Code), s)
}

func (api *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/version":
		writeJSON(w, http.StatusOK, version.Info{Major: "1", Minor: "37", GitVersion: "v1.37.2-fake"})
	case r.URL.Path == "/api":
		writeJSON(w, http.StatusOK, metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host}}})
	case r.URL.Path == "/apis":
		writeJSON(w, http.StatusOK, metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}})
	case r.URL.Path == "/api/v1":
		writeJSON(w, http.StatusOK, metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{
				{Name: "pods", Namespaced: true, Kind: "Pod", ShortNames: []string{"po"}, Verbs: []string{"get", "list", "watch", "create", "update", "delete"}},
				{Name: "pods/exec", Namespaced: true, Kind: "PodExecOptions", Verbs: []string{"create", "get"}},
				{Name: "nodes", Kind: "Node", ShortNames: []string{"no"}, Verbs: []string{"get", "list"}},
			}})
	case len(parts) == 3 && parts[2] == "nodes":
		api.mu.Lock()
		list := corev1.NodeList{TypeMeta: metav1.TypeMeta{Kind: "NodeList", APIVersion: "v1"}, Items: api.nodes}
		api.mu.Unlock()
		writeJSON(w, http.StatusOK, list)
	case len(parts) >= 5 && parts[2] == "namespaces" && parts[4] == "pods":
		api.servePods(w, r, parts[3], parts[5:])
	default:
		writeStatus(w, apierrors.NewNotFound(schema.GroupResource{}, r.URL.Path))
	}
}

func (api *fakeAPI) servePods(w http.ResponseWriter, r *http.Request, ns string, rest []string) {
	switch {
	case len(rest) == 0 && r.URL.Query().Get("watch") == "true":
		api.record(r)
		api.watchDeletion(w, r, ns)
	case len(rest) == 0 && r.Method == http.MethodGet:
		api.listPods(w, r, ns)
	case len(rest) == 0 && r.Method == http.MethodPost:
		api.createPod(w, r, ns)
	case len(rest) == 1:
		api.serveOnePod(w, r, ns, rest[0])
	case len(rest) == 2 && rest[1] == "log":
		api.record(r)
		if api.pod(ns, rest[0]) == nil {
			writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), rest[0]))
			return
		}
		io.WriteString(w, api.logs)
	case len(rest) == 2:
		api.record(r)
		if api.pod(ns, rest[0]) == nil {
			writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), rest[0]))
			return
		}
		api.mu.Lock()
		upgrade := api.upgrade
		api.mu.Unlock()
		if upgrade == nil {
			writeStatus(w, apierrors.NewForbidden(corev1.Resource("pods/"+rest[1]), rest[0], fmt.Errorf("no upgrades here")))
			return
		}
		upgrade(w, r)
	default:
		writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), strings.Join(rest, "/")))
	}
}

// listPods answers a Table when asked for one, as kube-apiserver does, with
// its pod columns (pkg/printers/internalversion): two of them priority 1.
func (api *fakeAPI) listPods(w http.ResponseWriter, r *http.Request, ns string) {
	api.mu.Lock()
	var pods []corev1.Pod
	for _, p := range api.pods {
		if p.Namespace == ns {
			pods = append(pods, *p)
		}
	}
	api.mu.Unlock()
	// Sorted, as etcd keys are.
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	if !strings.Contains(r.Header.Get("Accept"), "as=Table") {
		writeJSON(w, http.StatusOK, corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: pods})
		return
	}
	table := metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ColumnDefinitions: []metav1.TableColumnDefinition{
			{Name: "Name", Type: "string", Format: "name"},
			{Name: "Ready", Type: "string"},
			{Name: "Status", Type: "string"},
			{Name: "Restarts", Type: "string"},
			{Name: "Age", Type: "string"},
			{Name: "IP", Type: "string", Priority: 1},
			{Name: "Node", Type: "string", Priority: 1},
		},
	}
	for _, p := range pods {
		table.Rows = append(table.Rows, metav1.TableRow{Cells: []any{
			p.Name, fmt.Sprintf("%d/%d", len(p.Spec.Containers), len(p.Spec.Containers)), string(p.Status.Phase), "0", "5m", p.Status.PodIP, p.Spec.NodeName,
		}})
	}
	writeJSON(w, http.StatusOK, table)
}

func (api *fakeAPI) createPod(w http.ResponseWriter, r *http.Request, ns string) {
	var pod corev1.Pod
	if err := json.NewDecoder(r.Body).Decode(&pod); err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	pod.Namespace = ns
	if api.pod(ns, pod.Name) != nil {
		writeStatus(w, apierrors.NewAlreadyExists(corev1.Resource("pods"), pod.Name))
		return
	}
	// Defaults a real API server would add, which apply must leave alone.
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	api.addPod(&pod)
	api.writePod(w, http.StatusCreated, &pod)
}

func (api *fakeAPI) writePod(w http.ResponseWriter, code int, pod *corev1.Pod) {
	api.mu.Lock()
	out := pod.DeepCopy()
	api.mu.Unlock()
	out.Kind, out.APIVersion = "Pod", "v1"
	writeJSON(w, code, out)
}

func (api *fakeAPI) serveOnePod(w http.ResponseWriter, r *http.Request, ns, name string) {
	pod := api.pod(ns, name)
	if pod == nil {
		writeStatus(w, apierrors.NewNotFound(corev1.Resource("pods"), name))
		return
	}
	switch r.Method {
	case http.MethodGet:
		api.writePod(w, http.StatusOK, pod)
	case http.MethodPut:
		var updated corev1.Pod
		if err := json.NewDecoder(r.Body).Decode(&updated); err != nil {
			writeStatus(w, apierrors.NewBadRequest(err.Error()))
			return
		}
		if updated.ResourceVersion != pod.ResourceVersion {
			writeStatus(w, apierrors.NewConflict(corev1.Resource("pods"), name, fmt.Errorf("the object has been modified")))
			return
		}
		api.addPod(&updated)
		api.writePod(w, http.StatusOK, &updated)
	case http.MethodDelete:
		body, _ := io.ReadAll(r.Body)
		api.record(r)
		api.mu.Lock()
		api.calls[len(api.calls)-1] += " " + strings.TrimSpace(string(body))
		api.mu.Unlock()
		api.mu.Lock()
		now := metav1.Now()
		pod.DeletionTimestamp = &now
		api.mu.Unlock()
		api.writePod(w, http.StatusOK, pod)
	}
}

// watchDeletion plays the kubelet and the API server finishing a graceful
// deletion: once a watch on the pod arrives, the pod is removed and the
// watch gets its DELETED event.
func (api *fakeAPI) watchDeletion(w http.ResponseWriter, r *http.Request, ns string) {
	name, ok := strings.CutPrefix(r.URL.Query().Get("fieldSelector"), "metadata.name=")
	pod := api.pod(ns, name)
	if !ok || pod == nil || pod.DeletionTimestamp == nil {
		writeStatus(w, apierrors.NewBadRequest("this fake only watches pods being deleted, by name"))
		return
	}
	api.mu.Lock()
	delete(api.pods, ns+"/"+name)
	gone := pod.DeepCopy()
	api.mu.Unlock()
	gone.Kind, gone.APIVersion = "Pod", "v1"
	raw, _ := json.Marshal(gone)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(metav1.WatchEvent{Type: "DELETED", Object: kruntime.RawExtension{Raw: raw}})
}

// withGoroutineCheck fails t if goroutines started during it are still
// running once it ended and its servers closed; call it before starting
// servers, so that its check runs after their cleanups.
func withGoroutineCheck(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		var after int
		// Connections and streams wind down asynchronously after Close;
		// client-go's WebSocket heartbeat notices a locally closed
		// connection only at its next ping, up to 5 s later.
		for range 1000 {
			if after = runtime.NumGoroutine(); after <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines before, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	})
}
