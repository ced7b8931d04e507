package apiserver

import (
	"context"
	"net/http"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func scheduledCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodScheduled {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

func TestScheduler(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	create := func(name string, selector map[string]string) {
		t.Helper()
		_, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{NodeSelector: selector, Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	waitCondition := func(name string, status corev1.ConditionStatus, message string) *corev1.Pod {
		t.Helper()
		var pod *corev1.Pod
		waitFor(t, func() bool {
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			pod = p
			c := scheduledCondition(p)
			return c != nil && c.Status == status && c.Message == message
		})
		return pod
	}

	create("early", nil)
	waitCondition("early", corev1.ConditionFalse, "no nodes available to schedule pods")

	notReady, err := ts.client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-b"},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionFalse}}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitCondition("early", corev1.ConditionFalse, "0/1 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/not-ready: }. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.")

	ts.createNode(t, "node-a", "")
	pod := waitCondition("early", corev1.ConditionTrue, "")
	if pod.Spec.NodeName != "node-a" {
		t.Errorf("early on %q", pod.Spec.NodeName)
	}
	// The least loaded Ready node wins.
	notReady.Status.Conditions[0].Status = corev1.ConditionTrue
	if _, err := ts.client.CoreV1().Nodes().UpdateStatus(ctx, notReady, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	create("second", nil)
	if pod := waitCondition("second", corev1.ConditionTrue, ""); pod.Spec.NodeName != "node-b" {
		t.Errorf("second on %q, want the emptier node-b", pod.Spec.NodeName)
	}
	create("picky", map[string]string{"disk": "ssd"})
	waitCondition("picky", corev1.ConditionFalse, "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.")
}

func TestBinding(t *testing.T) {
	ts := startServer(t, Options{})
	ctx := context.Background()
	pods := ts.client.CoreV1().Pods("default")
	if _, err := pods.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.PodSpec{SchedulerName: "manual", Containers: []corev1.Container{{Name: "a", Image: "i"}}}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	for _, c := range []struct {
		path, body string
		code       int
		want       string
	}{
		{"/api/v1/namespaces/default/pods/p/binding", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"q"},"target":{"name":"n"}}`, 400,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"name in URL does not match name in Binding object","reason":"BadRequest","code":400}`},
		{"/api/v1/namespaces/default/pods/p/binding", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Pod"}}`, 500,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"[target.kind: Unsupported value: \"Pod\": supported values: \"Node\", \"\u003cempty\u003e\", target.name: Required value]","code":500}`},
		{"/api/v1/namespaces/default/pods/p/binding", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"kind":"Node","name":"n"}}`, 201,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Success","code":201}`},
		{"/api/v1/namespaces/default/bindings", `{"apiVersion":"v1","kind":"Binding","metadata":{"name":"p"},"target":{"name":"m"}}`, 409,
			`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"Operation cannot be fulfilled on pods/binding \"p\": pod p is already assigned to node \"n\"","reason":"Conflict","details":{"name":"p","kind":"pods/binding"},"code":409}`},
	} {
		code, _, body := ts.do(t, "POST", c.path, hdr, c.body)
		if code != c.code || body != c.want+"\n" {
			t.Errorf("%s %s:\n%d %s\nwant %d %s", c.path, c.body, code, body, c.code, c.want)
		}
	}
	pod, err := pods.Get(ctx, "p", metav1.GetOptions{})
	if err != nil || pod.Spec.NodeName != "n" || scheduledCondition(pod).Status != corev1.ConditionTrue {
		t.Errorf("bound pod: %v %+v", err, pod.Status.Conditions)
	}
	if err := pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: "nope"}, Target: corev1.ObjectReference{Name: "n"}}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("binding a missing pod: %v", err)
	}
}
