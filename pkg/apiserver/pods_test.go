package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// TestPodCreateDefaults checks the object a minimal pod becomes.
func TestPodCreateDefaults(t *testing.T) {
	ts := startServer(t, Options{})
	code, _, body := ts.do(t, "POST", "/api/v1/namespaces/default/pods", http.Header{"Content-Type": {"application/json"}},
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"schedulerName":"manual","containers":[{"name":"a","image":"busybox","ports":[{"containerPort":80}]},{"name":"b","image":"busybox:1.36","resources":{"limits":{"cpu":"1","memory":"1Gi"}}}]}}`)
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var pod corev1.Pod
	if err := json.Unmarshal([]byte(body), &pod); err != nil {
		t.Fatal(err)
	}
	spec, err := json.Marshal(pod.Spec)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"containers":[{"name":"a","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}],"resources":{},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"Always"},` +
		`{"name":"b","image":"busybox:1.36","resources":{"limits":{"cpu":"1","memory":"1Gi"},"requests":{"cpu":"1","memory":"1Gi"}},"terminationMessagePath":"/dev/termination-log","terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],` +
		`"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","securityContext":{},"schedulerName":"manual","enableServiceLinks":true}`
	if string(spec) != want {
		t.Errorf("spec\n%s\nwant\n%s", spec, want)
	}
	// Limits on only one container make it Burstable.
	if pod.Status.Phase != corev1.PodPending || pod.Status.QOSClass != corev1.PodQOSBurstable || pod.UID == "" || pod.CreationTimestamp.IsZero() || pod.ResourceVersion == "" {
		t.Errorf("status %+v, uid %q, created %v, rv %q", pod.Status, pod.UID, pod.CreationTimestamp, pod.ResourceVersion)
	}
	if pod.Kind != "Pod" || pod.APIVersion != "v1" {
		t.Errorf("type meta %v", pod.TypeMeta)
	}
}

func TestPodGenerateName(t *testing.T) {
	ts := startServer(t, Options{})
	pod, err := ts.client.CoreV1().Pods("default").Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "web-"},
		Spec:       corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "a", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(pod.Name, "web-") || len(pod.Name) != len("web-")+5 {
		t.Errorf("generated name %q", pod.Name)
	}
}

// TestValidation checks the Invalid Status of objects kubectl users write.
func TestValidation(t *testing.T) {
	ts := startServer(t, Options{})
	json := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		name, path, body string
		code             int
		message          string
	}{
		{"no name", "/api/v1/namespaces/default/pods", `{"spec":{"containers":[{"name":"a","image":"i"}]}}`, 422,
			`Pod "" is invalid: metadata.name: Required value: name or generateName is required`},
		{"no containers", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"p"},"spec":{}}`, 422,
			`Pod "p" is invalid: spec.containers: Required value`},
		{"container fields", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i"},{"name":"a"},{"name":"B_","image":"i","ports":[{"containerPort":70000}]}]}}`, 422,
			`Pod "p" is invalid: [spec.containers[1].name: Duplicate value: "a", spec.containers[1].image: Required value, ` +
				`spec.containers[2].name: Invalid value: "B_": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?'), ` +
				`spec.containers[2].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive]`},
		{"restart policy", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"p"},"spec":{"restartPolicy":"Sometimes","containers":[{"name":"a","image":"i"}]}}`, 422,
			`Pod "p" is invalid: spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"`},
		{"namespace mismatch", "/api/v1/namespaces/default/pods", `{"metadata":{"name":"p","namespace":"other"},"spec":{"containers":[{"name":"a","image":"i"}]}}`, 400,
			`the namespace of the provided object does not match the namespace sent on the request`},
		{"missing namespace", "/api/v1/namespaces/nope/pods", `{"metadata":{"name":"p"},"spec":{"containers":[{"name":"a","image":"i"}]}}`, 404,
			`namespaces "nope" not found`},
		{"wrong kind", "/api/v1/namespaces/default/pods", `{"apiVersion":"v1","kind":"Node","metadata":{"name":"p"}}`, 400,
			`Node in version "v1" cannot be handled as a Pod: converting (v1.Node) to (v1.Pod): unknown conversion`},
		{"wrong version", "/api/v1/namespaces/default/pods", `{"apiVersion":"apps/v1","kind":"Pod","metadata":{"name":"p"}}`, 400,
			`Pod in version "v1" cannot be handled as a Pod: no kind "Pod" is registered for version "apps/v1" in scheme "pkg/runtime/scheme.go:111"`},
		{"not json", "/api/v1/namespaces/default/pods", `{"metadata":`, 400,
			`the object provided is unrecognized (must be of type Pod): couldn't get version/kind; json parse error: unexpected end of JSON input`},
		{"bad node name", "/api/v1/nodes", `{"metadata":{"name":"Node_1"}}`, 422,
			`Node "Node_1" is invalid: metadata.name: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, body := ts.do(t, "POST", c.path, json, c.body)
			var status metav1.Status
			if err := jsonUnmarshal(body, &status); err != nil || code != c.code || status.Message != c.message || status.Code != int32(c.code) {
				t.Errorf("got %d %s\nwant %d %q", code, body, c.code, c.message)
			}
		})
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestFieldValidation(t *testing.T) {
	ts := startServer(t, Options{})
	body := `{"metadata":{"name":"%s"},"spec":{"schedulerName":"manual","containers":[{"name":"a","image":"i","comand":["x"]}]}}`
	hdr := http.Header{"Content-Type": {"application/json"}}
	code, _, resp := ts.do(t, "POST", "/api/v1/namespaces/default/pods?fieldValidation=Strict", hdr, strings.Replace(body, "%s", "strict", 1))
	if code != 400 || !strings.Contains(resp, `"message":"Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].comand\""`) {
		t.Errorf("Strict: %d %s", code, resp)
	}
	code, header, _ := ts.do(t, "POST", "/api/v1/namespaces/default/pods", hdr, strings.Replace(body, "%s", "warn", 1))
	if code != 201 || header.Get("Warning") != `299 - "unknown field \"spec.containers[0].comand\""` {
		t.Errorf("Warn: %d, Warning %q", code, header.Get("Warning"))
	}
	code, header, _ = ts.do(t, "POST", "/api/v1/namespaces/default/pods?fieldValidation=Ignore", hdr, strings.Replace(body, "%s", "ignore", 1))
	if code != 201 || header.Get("Warning") != "" {
		t.Errorf("Ignore: %d, Warning %q", code, header.Get("Warning"))
	}
	code, _, resp = ts.do(t, "POST", "/api/v1/namespaces/default/pods?fieldValidation=Loose", hdr, strings.Replace(body, "%s", "loose", 1))
	if code != 422 || !strings.Contains(resp, `CreateOptions.meta.k8s.io \"\" is invalid: fieldValidation: Unsupported value: \"Loose\": supported values: \"\", \"Ignore\", \"Strict\", \"Warn\"`) {
		t.Errorf("bad directive: %d %s", code, resp)
	}
}

// TestPodUpdate covers the spec rules of a pod update and optimistic
// concurrency through the patch types kubectl uses.
func TestPodUpdate(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	pod := ts.createRunningPod(t, "default", "p", "node-1", "main")

	pod.Spec.Containers[0].Image = "busybox:1.37"
	updated, err := pods.Update(ctx, pod, metav1.UpdateOptions{})
	if err != nil || updated.Spec.Containers[0].Image != "busybox:1.37" || updated.Status.Phase != corev1.PodRunning {
		t.Fatalf("image update: %v", err)
	}
	updated.Spec.Containers[0].Command = []string{"sh"}
	_, err = pods.Update(ctx, updated, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.HasPrefix(err.Error(), "Pod \"p\" is invalid: spec: Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n") ||
		!strings.Contains(err.Error(), "\n+   \"command\": [\n+    \"sh\"\n+   ],\n") {
		t.Errorf("spec update: %v", err)
	}

	for _, c := range []struct {
		patchType types.PatchType
		patch     string
		check     func(*corev1.Pod) bool
	}{
		{types.StrategicMergePatchType, `{"metadata":{"labels":{"a":"1"}}}`, func(p *corev1.Pod) bool { return p.Labels["a"] == "1" }},
		{types.MergePatchType, `{"metadata":{"labels":{"a":null,"b":"2"}}}`, func(p *corev1.Pod) bool { return p.Labels["a"] == "" && p.Labels["b"] == "2" }},
		{types.JSONPatchType, `[{"op":"add","path":"/metadata/annotations","value":{"c":"3"}}]`, func(p *corev1.Pod) bool { return p.Annotations["c"] == "3" }},
		{types.StrategicMergePatchType, `{"spec":{"containers":[{"name":"main","image":"busybox:1.38"}]}}`, func(p *corev1.Pod) bool {
			return len(p.Spec.Containers) == 1 && p.Spec.Containers[0].Image == "busybox:1.38"
		}},
	} {
		patched, err := pods.Patch(ctx, "p", c.patchType, []byte(c.patch), metav1.PatchOptions{})
		if err != nil || !c.check(patched) {
			t.Errorf("%s %s: %v", c.patchType, c.patch, err)
		}
	}
	// A patch that names a stale resource version conflicts.
	_, err = pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"metadata":{"resourceVersion":"1","labels":{"x":"y"}}}`), metav1.PatchOptions{})
	if !apierrors.IsConflict(err) {
		t.Errorf("stale patch: %v", err)
	}
	_, err = pods.Patch(ctx, "p", types.ApplyPatchType, []byte(`{}`), metav1.PatchOptions{FieldManager: "me"})
	if !apierrors.IsUnsupportedMediaType(err) || err.Error() != "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json" {
		t.Errorf("apply patch: %v", err)
	}
	_, err = pods.Patch(ctx, "p", types.JSONPatchType, []byte(`[{"op":"replace","path":"/nope/x","value":1}]`), metav1.PatchOptions{})
	if !apierrors.IsInvalid(err) && (err == nil || !strings.Contains(err.Error(), "replace operation does not apply")) {
		t.Errorf("bad JSON patch: %v", err)
	}
	// Patching status through the pod itself changes nothing there.
	patched, err := pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"status":{"phase":"Failed"}}`), metav1.PatchOptions{})
	if err != nil || patched.Status.Phase != corev1.PodRunning {
		t.Errorf("status through pod: %v, phase %s", err, patched.Status.Phase)
	}
	patched, err = pods.Patch(ctx, "p", types.MergePatchType, []byte(`{"status":{"phase":"Failed"}}`), metav1.PatchOptions{}, "status")
	if err != nil || patched.Status.Phase != corev1.PodFailed {
		t.Errorf("status patch: %v, phase %s", err, patched.Status.Phase)
	}
}

// TestPodDelete follows graceful deletion: a pod on a node is marked for
// its grace period, may only be shortened, and goes with the kubelet's
// delete of grace zero; a pod on no node goes at once.
func TestPodDelete(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	pod := ts.createRunningPod(t, "default", "p", "node-1", "main")

	code, _, body := ts.do(t, "DELETE", "/api/v1/namespaces/default/pods/p", nil, "")
	var marked corev1.Pod
	if err := jsonUnmarshal(body, &marked); err != nil || code != 200 || marked.DeletionTimestamp == nil || *marked.DeletionGracePeriodSeconds != 30 {
		t.Fatalf("delete: %d %s", code, body)
	}
	// Asking again with a longer period changes nothing.
	again, _, _ := ts.do(t, "DELETE", "/api/v1/namespaces/default/pods/p?gracePeriodSeconds=60", nil, "")
	cur, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || again != 200 || *cur.DeletionGracePeriodSeconds != 30 || cur.ResourceVersion != marked.ResourceVersion {
		t.Errorf("longer grace: %v, %v", err, cur.DeletionGracePeriodSeconds)
	}
	// The wrong UID is refused.
	opts := metav1.NewDeleteOptions(0)
	opts.Preconditions = metav1.NewUIDPreconditions("other")
	err = pods.Delete(ctx, "p", *opts)
	if !apierrors.IsConflict(err) || err.Error() != `Operation cannot be fulfilled on Pod "p": the UID in the precondition (other) does not match the UID in record (`+string(pod.UID)+`). The object might have been deleted and then recreated` {
		t.Errorf("wrong uid: %v", err)
	}
	opts.Preconditions = metav1.NewUIDPreconditions(string(pod.UID))
	if err := pods.Delete(ctx, "p", *opts); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after grace-0 delete: %v", err)
	}

	unscheduled, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "u"}, Spec: corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code, _, body = ts.do(t, "DELETE", "/api/v1/namespaces/default/pods/u", nil, "")
	var gone corev1.Pod
	if err := jsonUnmarshal(body, &gone); err != nil || code != 200 || gone.UID != unscheduled.UID || *gone.DeletionGracePeriodSeconds != 0 {
		t.Errorf("unscheduled delete: %d %s", code, body)
	}
	if _, err := pods.Get(ctx, "u", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unscheduled pod still there: %v", err)
	}

	// Finalizers hold a pod until the last one goes.
	held, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "f", Finalizers: []string{"example.com/hold"}}, Spec: corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := pods.Delete(ctx, "f", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	held, err = pods.Get(ctx, "f", metav1.GetOptions{})
	if err != nil || held.DeletionTimestamp == nil {
		t.Fatalf("pod with finalizer: %v", err)
	}
	held.Finalizers = nil
	if _, err := pods.Update(ctx, held, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pods.Get(ctx, "f", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pod without finalizers still there: %v", err)
	}

	// Nodes go at once and answer a Status.
	ts.createNode(t, "n", "")
	code, _, body = ts.do(t, "DELETE", "/api/v1/nodes/n", nil, "")
	if code != 200 || !strings.HasPrefix(body, `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","details":{"name":"n","kind":"nodes","uid":"`) {
		t.Errorf("node delete: %d %s", code, body)
	}
}

// TestNamespaceLifecycle deletes a namespace: its pods are deleted, new
// ones refused, and it goes once empty.
func TestNamespaceLifecycle(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	if _, err := ts.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	ts.createRunningPod(t, "team", "p", "node-1", "main")
	if err := ts.client.CoreV1().Namespaces().Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err := ts.client.CoreV1().Pods("team").Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "q"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `pods "q" is forbidden: unable to create new content in namespace team because it is being terminated` {
		t.Errorf("create in terminating namespace: %v", err)
	}
	// The namespace controller marks the pod; the kubelet would then stop it.
	waitFor(t, func() bool {
		p, err := ts.client.CoreV1().Pods("team").Get(ctx, "p", metav1.GetOptions{})
		return err == nil && p.DeletionTimestamp != nil
	})
	if err := ts.client.CoreV1().Pods("team").Delete(ctx, "p", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := ts.client.CoreV1().Namespaces().Get(ctx, "team", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	err = ts.client.CoreV1().Namespaces().Delete(ctx, "kube-system", metav1.DeleteOptions{})
	if !apierrors.IsForbidden(err) || err.Error() != `namespaces "kube-system" is forbidden: this namespace may not be deleted` {
		t.Errorf("delete kube-system: %v", err)
	}
}
