package minikubectl

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestGet(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.addPod(runningPod("web", "nginx", "sidecar"))
	api.nodes = []corev1.Node{{ObjectMeta: metav1.ObjectMeta{
		Name:              "node-1",
		CreationTimestamp: metav1.NewTime(time.Now().Add(-49 * time.Hour)),
	}}}

	for _, tc := range []struct {
		name string
		args []string
		want result
	}{
		{
			name: "pods as the server's table",
			args: []string{"get", "pods"},
			want: result{stdout: "NAME   READY   STATUS    RESTARTS   AGE\ndemo   1/1     Running   0          5m\nweb    2/2     Running   0          5m\n"},
		},
		{
			name: "wide",
			args: []string{"get", "po", "-o", "wide"},
			want: result{stdout: "NAME   READY   STATUS    RESTARTS   AGE   IP         NODE\ndemo   1/1     Running   0          5m    10.0.0.7   node-1\nweb    2/2     Running   0          5m    10.0.0.7   node-1\n"},
		},
		{
			// This fake answers a single pod without a Table.
			name: "one pod without a table",
			args: []string{"get", "pod/demo"},
			want: result{stdout: "NAME   AGE\ndemo   <unknown>\n"},
		},
		{
			name: "two pods by name, one header",
			args: []string{"get", "pods", "demo", "web"},
			want: result{stdout: "NAME   AGE\ndemo   <unknown>\nweb    <unknown>\n"},
		},
		{
			name: "nodes as a plain list",
			args: []string{"get", "nodes"},
			want: result{stdout: "NAME     AGE\nnode-1   2d1h\n"},
		},
		{
			name: "names",
			args: []string{"get", "pods", "-o", "name"},
			want: result{stdout: "pod/demo\npod/web\n"},
		},
		{
			name: "empty namespace",
			args: []string{"get", "pods", "-n", "empty"},
			want: result{stderr: "No resources found in empty namespace.\n"},
		},
		{
			name: "unknown pod",
			args: []string{"get", "pod", "nope"},
			want: result{stderr: "Error from server (NotFound): pods \"nope\" not found\n", code: 1},
		},
		{
			name: "unknown type",
			args: []string{"get", "widgets"},
			want: result{stderr: "error: the server doesn't have a resource type \"widgets\"\n", code: 1},
		},
		{
			name: "unknown output",
			args: []string{"get", "pods", "-o", "toml"},
			want: result{stderr: "error: unable to match a printer suitable for the output format \"toml\", allowed formats are: json,name,wide,yaml\n", code: 1},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if r := api.run(nil, tc.args...); r != tc.want {
				t.Errorf("got %+v, want %+v", r, tc.want)
			}
		})
	}

	t.Run("json", func(t *testing.T) {
		r := api.run(nil, "get", "pod/demo", "-o", "json")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n") {
			t.Fatalf("got %+v", r)
		}
		var pod corev1.Pod
		if err := json.Unmarshal([]byte(r.stdout), &pod); err != nil || pod.Name != "demo" || pod.Status.PodIP != "10.0.0.7" {
			t.Errorf("decoded %+v, %v", pod, err)
		}
	})
	t.Run("yaml list", func(t *testing.T) {
		r := api.run(nil, "get", "pods", "-o", "yaml")
		if r.code != 0 || !strings.HasPrefix(r.stdout, "apiVersion: v1\nitems:\n- apiVersion: v1\n  kind: Pod\n") ||
			!strings.HasSuffix(r.stdout, "kind: List\nmetadata:\n  resourceVersion: \"\"\n") || strings.Count(r.stdout, "\n  kind: Pod\n") != 2 {
			t.Errorf("got %+v", r)
		}
	})
}

func TestVersion(t *testing.T) {
	api := newFakeAPI(t)
	r := api.run(nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Client Version: mini-kubectl ") || !strings.HasSuffix(r.stdout, "\nServer Version: v1.37.2-fake\n") {
		t.Errorf("got %+v", r)
	}
}
