package apiserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// TestInformerFieldSelector runs a client-go pod informer as the kubelet
// does (fieldSelector spec.nodeName=node-1, client-go v0.37, which streams
// the initial list with sendInitialEvents): a pod appears when it is bound
// to the node, changes with its status and goes when deleted.
func TestInformerFieldSelector(t *testing.T) {
	ts := startServer(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pods := ts.client.CoreV1().Pods("default")
	// A pod already on the node before the informer starts.
	ts.createRunningPod(t, "default", "before", "node-1", "main")

	var mu sync.Mutex
	var events []string
	record := func(s string) {
		mu.Lock()
		events = append(events, s)
		mu.Unlock()
	}
	factory := informers.NewSharedInformerFactoryWithOptions(ts.client, 0, informers.WithTweakListOptions(func(o *metav1.ListOptions) {
		o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", "node-1").String()
	}))
	informer := factory.Core().V1().Pods().Informer()
	informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { record("add " + obj.(*corev1.Pod).Name) },
		UpdateFunc: func(old, obj any) {
			p := obj.(*corev1.Pod)
			record(fmt.Sprintf("update %s %s deleting=%t", p.Name, p.Status.Phase, p.DeletionTimestamp != nil))
		},
		DeleteFunc: func(obj any) { record("delete " + obj.(*corev1.Pod).Name) },
	})
	factory.Start(ctx.Done())
	defer func() {
		cancel()
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), informer.HasSynced) {
		t.Fatal("no sync")
	}

	pending, err := pods.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "later"},
		Spec:       corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	binding := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "later"}, Target: corev1.ObjectReference{Kind: "Node", Name: "node-1"}}
	if err := pods.Bind(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bound, err := pods.Get(ctx, "later", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bound.Status.Phase = corev1.PodRunning
	if _, err := pods.UpdateStatus(ctx, bound, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "later", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	opts := metav1.NewDeleteOptions(0)
	opts.Preconditions = metav1.NewUIDPreconditions(string(pending.UID))
	if err := pods.Delete(ctx, "later", *opts); err != nil {
		t.Fatal(err)
	}

	// The kubelet's grace-0 delete writes the pod once more (deletion now)
	// before removing it, as the generic registry does.
	want := strings.Join([]string{"add before", "add later", "update later Running deleting=false",
		"update later Running deleting=true", "update later Running deleting=true", "delete later"}, "\n")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got := strings.Join(events, "\n")
		mu.Unlock()
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("informer events:\n%s\nwant:\n%s", got, want)
		}
	}
}

func TestUpdateStatusConflict(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	pod := ts.createRunningPod(t, "default", "demo", "node-1", "main")
	pod.Status.Message = "first"
	if _, err := ts.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod.Status.Message = "stale"
	_, err := ts.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	want := `Operation cannot be fulfilled on pods "demo": the object has been modified; please apply your changes to the latest version and try again`
	if !apierrors.IsConflict(err) || err.Error() != want {
		t.Errorf("stale update: %v, want conflict %q", err, want)
	}
	// An update without a resource version is unconditional.
	pod.ResourceVersion = ""
	updated, err := ts.client.CoreV1().Pods("default").UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if err != nil || updated.Status.Message != "stale" {
		t.Errorf("unconditional update: %v, message %q", err, updated.Status.Message)
	}
	// A status update changes nothing else; one that changes nothing keeps
	// the resource version.
	updated.Spec.ActiveDeadlineSeconds = new(int64)
	again, err := ts.client.CoreV1().Pods("default").UpdateStatus(ctx, updated, metav1.UpdateOptions{})
	if err != nil || again.Spec.ActiveDeadlineSeconds != nil || again.ResourceVersion != updated.ResourceVersion {
		t.Errorf("status update of spec: %v, spec %v, rv %s -> %s", err, again.Spec.ActiveDeadlineSeconds, updated.ResourceVersion, again.ResourceVersion)
	}
}

// watchEvents opens a raw watch and returns its events as they come.
func watchEvents(t *testing.T, ts *testServer, path string, header http.Header) (<-chan map[string]any, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", ts.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("watch: %s, %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		defer resp.Body.Close()
		scanner := bufio.NewScanner(resp.Body)
		scanner.Buffer(nil, 1<<20)
		for scanner.Scan() {
			var ev map[string]any
			if err := json.Unmarshal(scanner.Bytes(), &ev); err != nil {
				t.Errorf("event %q: %v", scanner.Text(), err)
				return
			}
			events <- ev
		}
	}()
	return events, cancel
}

// next returns the next event's type, object name and resource version.
func next(t *testing.T, events <-chan map[string]any) (string, string, string, map[string]any) {
	t.Helper()
	select {
	case ev, ok := <-events:
		if !ok {
			return "", "", "", nil
		}
		obj := ev["object"].(map[string]any)
		md, _ := obj["metadata"].(map[string]any)
		name, _ := md["name"].(string)
		rv, _ := md["resourceVersion"].(string)
		return ev["type"].(string), name, rv, obj
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return "", "", "", nil
}

// TestWatch covers where a watch starts and how it ends.
func TestWatch(t *testing.T) {
	ts := startServer(t, Options{}, func(s *Server) { s.api.BookmarkInterval = 100 * time.Millisecond })
	ctx := context.Background()
	ns := ts.client.CoreV1().Namespaces()
	mk := func(name string) string {
		n, err := ns.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"test": "watch"}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n.ResourceVersion
	}
	first := mk("w1")

	t.Run("initial events then bookmark", func(t *testing.T) {
		events, stop := watchEvents(t, ts, "/api/v1/namespaces?watch=true&labelSelector=test%3Dwatch&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true", nil)
		defer stop()
		if typ, name, _, _ := next(t, events); typ != "ADDED" || name != "w1" {
			t.Errorf("first event %s %s", typ, name)
		}
		typ, _, rv, obj := next(t, events)
		annotations := obj["metadata"].(map[string]any)["annotations"]
		if typ != "BOOKMARK" || rv != strconv.FormatUint(ts.store.ResourceVersion(), 10) || fmt.Sprint(annotations) != "map[k8s.io/initial-events-end:true]" || obj["kind"] != "Namespace" {
			t.Errorf("second event %s rv %s annotations %v kind %v", typ, rv, annotations, obj["kind"])
		}
		// Progress bookmarks follow as other objects change.
		ts.createNode(t, "unrelated", "")
		for {
			typ, _, rv, _ := next(t, events)
			if typ == "BOOKMARK" && rv == strconv.FormatUint(ts.store.ResourceVersion(), 10) {
				break
			}
			if typ != "BOOKMARK" {
				t.Fatalf("event %s", typ)
			}
		}
	})

	t.Run("resume from resource version", func(t *testing.T) {
		mk("w2")
		events, stop := watchEvents(t, ts, "/api/v1/namespaces?watch=1&labelSelector=test%3Dwatch&resourceVersion="+first, nil)
		defer stop()
		if typ, name, _, _ := next(t, events); typ != "ADDED" || name != "w2" {
			t.Errorf("replayed %s %s, want ADDED w2", typ, name)
		}
		if err := ns.Delete(ctx, "w2", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		// Termination: marked, then removed by the namespace controller.
		for _, want := range []string{"MODIFIED", "DELETED"} {
			if typ, name, _, _ := next(t, events); typ != want || name != "w2" {
				t.Errorf("event %s %s, want %s w2", typ, name, want)
			}
		}
	})

	t.Run("selector exit is DELETED", func(t *testing.T) {
		events, stop := watchEvents(t, ts, "/api/v1/namespaces?watch=true&labelSelector=test%3Dwatch&resourceVersion="+strconv.FormatUint(ts.store.ResourceVersion(), 10), nil)
		defer stop()
		w1, err := ns.Get(ctx, "w1", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w1.Labels["test"] = "other"
		if _, err := ns.Update(ctx, w1, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if typ, name, _, _ := next(t, events); typ != "DELETED" || name != "w1" {
			t.Errorf("event %s %s, want DELETED w1", typ, name)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		events, stop := watchEvents(t, ts, "/api/v1/nodes?watch=true&timeoutSeconds=1&resourceVersion="+strconv.FormatUint(ts.store.ResourceVersion(), 10), nil)
		defer stop()
		start := time.Now()
		if typ, _, _, _ := next(t, events); typ != "" || time.Since(start) > 5*time.Second {
			t.Errorf("watch did not end at its timeout: %s", typ)
		}
	})

	t.Run("too old", func(t *testing.T) {
		for i := 0; i <= registry.HistorySize; i++ {
			w1, err := ns.Get(ctx, "w1", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			w1.Annotations = map[string]string{"n": strconv.Itoa(i)}
			if _, err := ns.Update(ctx, w1, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		events, stop := watchEvents(t, ts, "/api/v1/namespaces?watch=true&resourceVersion="+first, nil)
		defer stop()
		typ, _, _, obj := next(t, events)
		want := fmt.Sprintf("too old resource version: %s (%d)", first, ts.store.ResourceVersion()-registry.HistorySize)
		if typ != "ERROR" || obj["code"] != float64(410) || obj["reason"] != "Expired" || obj["message"] != want {
			t.Errorf("event %s %v, want ERROR 410 Expired %q", typ, obj, want)
		}
	})

	t.Run("too large", func(t *testing.T) {
		events, stop := watchEvents(t, ts, "/api/v1/namespaces?watch=true&resourceVersion=999999", nil)
		defer stop()
		typ, _, _, obj := next(t, events)
		if typ != "ERROR" || obj["code"] != float64(504) || obj["reason"] != "Timeout" {
			t.Errorf("event %s %v, want ERROR 504 Timeout", typ, obj)
		}
	})

	t.Run("invalid", func(t *testing.T) {
		for _, c := range []struct{ query, message string }{
			{"watch=true&resourceVersion=abc", "invalid resource version: strconv.ParseUint: parsing \"abc\": invalid syntax"},
			{"watch=true&resourceVersionMatch=Exact&sendInitialEvents=true", `ListOptions.meta.k8s.io "" is invalid: [resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan, resourceVersionMatch: Unsupported value: "Exact": supported values: "NotOlderThan"]`},
			{"labelSelector=a%3D%3D%3Db", "unable to parse requirement: found '=', expected: identifier"},
		} {
			code, _, body := ts.do(t, "GET", "/api/v1/namespaces?"+c.query, nil, "")
			var status metav1.Status
			json.Unmarshal([]byte(body), &status)
			if code >= 300 && status.Message == c.message {
				continue
			}
			t.Errorf("%s: %d %s", c.query, code, body)
		}
	})
}

// TestWatchTable is kubectl get -w: Table events, with the column
// definitions in the first only.
func TestWatchTable(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createRunningPod(t, "default", "a", "node-1", "main")
	events, stop := watchEvents(t, ts, "/api/v1/namespaces/default/pods?watch=true", http.Header{"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}})
	defer stop()
	_, _, _, first := next(t, events)
	ts.createRunningPod(t, "default", "b", "node-1", "main")
	_, _, _, second := next(t, events)
	if first["kind"] != "Table" || first["columnDefinitions"] == nil || second["kind"] != "Table" || second["columnDefinitions"] != nil {
		t.Errorf("events:\n%v\n%v", first, second)
	}
	rows := second["rows"].([]any)
	cells := rows[0].(map[string]any)["cells"].([]any)
	if len(rows) != 1 || cells[0] != "b" || cells[2] != "Pending" {
		t.Errorf("rows %v", rows)
	}
}
