package apiserver

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestPrintPod checks the READY, STATUS and RESTARTS logic of upstream's
// printPod on the states kubectl users see.
func TestPrintPod(t *testing.T) {
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	ago := metav1.NewTime(time.Now().Add(-90 * time.Second))
	always := corev1.ContainerRestartPolicyAlways
	now := metav1.Now()
	started := true
	cases := []struct {
		name string
		pod  corev1.Pod
		want string
	}{
		{"pending", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending}},
			"0/1 Pending 0"},
		{"creating", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, Status: corev1.PodStatus{Phase: corev1.PodPending,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}}}},
			"0/1 ContainerCreating 0"},
		{"running", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}, {Name: "b", State: running}}}},
			"1/2 Running 0"},
		{"crash loop", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, Status: corev1.PodStatus{Phase: corev1.PodRunning,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", RestartCount: 4,
				State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, FinishedAt: ago}}}}}},
			"0/1 CrashLoopBackOff 4 (90s ago)"},
		{"completed", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Completed"}}}}}},
			"0/1 Completed 0"},
		{"killed", corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}}, Status: corev1.PodStatus{Phase: corev1.PodFailed,
			ContainerStatuses: []corev1.ContainerStatus{{Name: "a", State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Signal: 9}}}}}},
			"0/1 Signal:9 0"},
		{"init", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodPending, InitContainerStatuses: []corev1.ContainerStatus{{Name: "i", State: running}}}},
			"0/1 Init:0/1 0"},
		{"sidecar", corev1.Pod{Spec: corev1.PodSpec{InitContainers: []corev1.Container{{Name: "s", RestartPolicy: &always}}, Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodInitialized, Status: corev1.ConditionTrue}},
				InitContainerStatuses: []corev1.ContainerStatus{{Name: "s", Ready: true, Started: &started, State: running}},
				ContainerStatuses:     []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}}}},
			"2/2 Running 0"},
		{"terminating", corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{Name: "a", Ready: true, State: running}}}},
			"1/1 Terminating 0"},
	}
	for _, c := range cases {
		row := printPod(&c.pod)
		if got := fmt.Sprintf("%s %s %s", row.Cells[1], row.Cells[2], row.Cells[3]); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	completed := printPod(&cases[4].pod)
	if len(completed.Conditions) != 1 || completed.Conditions[0].Reason != "Succeeded" {
		t.Errorf("completed row conditions %v", completed.Conditions)
	}
}

func TestTableResponse(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	accept := http.Header{"Accept": {"application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"}}
	for _, c := range []struct {
		query, objectKind string
	}{{"", "PartialObjectMetadata"}, {"?includeObject=Object", "Pod"}, {"?includeObject=None", ""}} {
		code, _, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods"+c.query, accept, "")
		var table metav1.Table
		if err := json.Unmarshal([]byte(body), &table); err != nil || code != 200 {
			t.Fatalf("%d %s", code, body)
		}
		var obj struct{ Kind string }
		if raw := table.Rows[0].Object.Raw; raw != nil {
			json.Unmarshal(raw, &obj)
		}
		if table.Kind != "Table" || table.APIVersion != "meta.k8s.io/v1" || len(table.ColumnDefinitions) != 9 || len(table.Rows) != 1 ||
			fmt.Sprint(table.Rows[0].Cells[:4]) != "[demo 1/1 Running 0]" || obj.Kind != c.objectKind || table.ResourceVersion == "" {
			t.Errorf("table%s: %s", c.query, body)
		}
	}
	code, _, body := ts.do(t, "GET", "/api/v1/namespaces/default/pods?includeObject=Everything", accept, "")
	if code != 400 || body != `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"unrecognized includeObject value: \"Everything\"","reason":"BadRequest","code":400}`+"\n" {
		t.Errorf("bad includeObject: %d %s", code, body)
	}
	// A single object is a table of one row; v1beta1 is served too.
	code, _, body = ts.do(t, "GET", "/api/v1/namespaces/default", http.Header{"Accept": {"application/json;as=Table;v=v1beta1;g=meta.k8s.io"}}, "")
	var table metav1.Table
	if err := json.Unmarshal([]byte(body), &table); err != nil || code != 200 || table.APIVersion != "meta.k8s.io/v1beta1" || fmt.Sprint(table.Rows[0].Cells[:2]) != "[default Active]" {
		t.Errorf("namespace table: %d %s", code, body)
	}
}
