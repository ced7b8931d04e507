package apiserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
)

// These tests drive the real kubectl binaries: the dispatcher, which runs
// its own kubectl 1.32 against this server, and kubectl 1.28, which speaks
// SPDY only and asks for OpenAPI v2.

var kubectls = []string{latestKubectl, "1.28"}

func TestKubectlGet(t *testing.T) {
	kubelet := newFakeKubelet(t)
	ts := startServer(t, Options{})
	ts.createNode(t, "node-1", kubelet.srv.URL)
	ts.createRunningPod(t, "default", "demo", "node-1", "main")
	for _, bin := range kubectls {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			for _, c := range []struct {
				args []string
				want string
			}{
				{[]string{"get", "pods"}, `^NAME   READY   STATUS    RESTARTS   AGE\ndemo   1/1     Running   0          \d+s\n$`},
				{[]string{"get", "po", "demo"}, `^NAME   READY   STATUS    RESTARTS   AGE\ndemo   1/1     Running   0          \d+s\n$`},
				{[]string{"get", "pods", "-o", "wide"}, `^NAME   READY   STATUS    RESTARTS   AGE   IP       NODE     NOMINATED NODE   READINESS GATES\ndemo   1/1     Running   0          \d+s\s+<none>   node-1   <none>           <none>\n$`},
				{[]string{"get", "nodes"}, `^NAME     STATUS   ROLES    AGE   VERSION\nnode-1   Ready    <none>   \d+s\s+v1.32.4\n$`},
				{[]string{"get", "no", "-o", "wide"}, `^NAME     STATUS   ROLES    AGE   VERSION   INTERNAL-IP   EXTERNAL-IP   OS-IMAGE   KERNEL-VERSION   CONTAINER-RUNTIME\nnode-1   Ready    <none>   \d+s\s+v1.32.4   127.0.0.1     <none>        Debian     6.1              fake-cri://0.1\n$`},
				{[]string{"get", "ns", "default"}, `^NAME      STATUS   AGE\ndefault   Active   \d+s\n$`},
				{[]string{"get", "pods", "-l", "app=none"}, `^$`},
				{[]string{"get", "pods", "--field-selector", "spec.nodeName=node-1", "-o", "name"}, `^pod/demo\n$`},
			} {
				r := ts.kubectl(t, bin, nil, nil, c.args...)
				if r.code != 0 || !regexp.MustCompile(c.want).MatchString(r.stdout) {
					t.Errorf("kubectl %v: exit %d\nstdout %q\nstderr %q\nwant %s", c.args, r.code, r.stdout, r.stderr, c.want)
				}
			}
			r := ts.kubectl(t, bin, nil, nil, "get", "pods", "--field-selector", "spec.bogus=1")
			if r.code != 1 || r.stderr != "Error from server (BadRequest): Unable to find \"/v1, Resource=pods\" that match label selector \"\", field selector \"spec.bogus=1\": field label not supported: spec.bogus\n" {
				t.Errorf("bad field selector: exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func TestKubectlApply(t *testing.T) {
	ts := startServer(t, Options{})
	for _, bin := range kubectls {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			ctx := context.Background()
			manifest := filepath.Join(t.TempDir(), "pod.yaml")
			write := func(label string) {
				os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: applied
  labels: {run: `+label+`}
spec:
  containers:
  - name: app
    image: busybox:1.36
    command: ["sleep", "1000"]
`), 0o644)
			}
			write("one")
			for _, step := range []struct{ label, want string }{{"one", "pod/applied created\n"}, {"one", "pod/applied unchanged\n"}, {"two", "pod/applied configured\n"}} {
				write(step.label)
				r := ts.kubectl(t, bin, nil, nil, "apply", "-f", manifest)
				if r.code != 0 || r.stdout != step.want {
					t.Fatalf("apply: exit %d, stdout %q, stderr %q; want %q", r.code, r.stdout, r.stderr, step.want)
				}
			}
			pod, err := ts.client.CoreV1().Pods("default").Get(ctx, "applied", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if pod.Labels["run"] != "two" || pod.Spec.Containers[0].ImagePullPolicy != corev1.PullIfNotPresent || pod.Annotations[corev1.LastAppliedConfigAnnotation] == "" {
				t.Errorf("applied pod: labels %v, pull policy %s, annotations %v", pod.Labels, pod.Spec.Containers[0].ImagePullPolicy, pod.Annotations)
			}
			// Strict server-side field validation, as kubectl asks for it.
			os.WriteFile(manifest, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: typo}\nspec:\n  containers: [{name: a, image: busybox, comand: [true]}]\n"), 0o644)
			r := ts.kubectl(t, bin, nil, nil, "apply", "-f", manifest)
			if r.code != 1 || !regexp.MustCompile(`unknown field "spec.containers\[0\].comand"`).MatchString(r.stderr) {
				t.Errorf("apply with unknown field: exit %d, stderr %q", r.code, r.stderr)
			}
			if r := ts.kubectl(t, bin, nil, nil, "delete", "pod", "applied"); r.code != 0 || r.stdout != "pod \"applied\" deleted\n" {
				t.Errorf("delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// TestKubectlDelete deletes a pod that a node runs: kubectl waits until
// the kubelet, simulated here, has stopped it and deleted it for good.
func TestKubectlDelete(t *testing.T) {
	ts := startServer(t, Options{})
	ts.createNode(t, "node-1", "")
	for _, bin := range kubectls {
		t.Run(filepath.Base(bin), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			pod := ts.createRunningPod(t, "default", "doomed", "node-1", "main")
			w, err := ts.client.CoreV1().Pods("default").Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "doomed").String(), ResourceVersion: pod.ResourceVersion})
			if err != nil {
				t.Fatal(err)
			}
			kubeletDone := make(chan error, 1)
			go func() {
				defer w.Stop()
				for ev := range w.ResultChan() {
					p, ok := ev.Object.(*corev1.Pod)
					if !ok || ev.Type != watch.Modified || p.DeletionTimestamp == nil {
						continue
					}
					if *p.DeletionGracePeriodSeconds != 30 {
						kubeletDone <- fmt.Errorf("deletion grace period %d, want 30", *p.DeletionGracePeriodSeconds)
						return
					}
					opts := metav1.NewDeleteOptions(0)
					opts.Preconditions = metav1.NewUIDPreconditions(string(p.UID))
					kubeletDone <- ts.client.CoreV1().Pods("default").Delete(ctx, p.Name, *opts)
					return
				}
				kubeletDone <- ctx.Err()
			}()
			r := ts.kubectl(t, bin, nil, nil, "delete", "pod", "doomed")
			if r.code != 0 || r.stdout != "pod \"doomed\" deleted\n" {
				t.Errorf("delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if err := <-kubeletDone; err != nil {
				t.Errorf("kubelet's delete: %v", err)
			}
			if _, err := ts.client.CoreV1().Pods("default").Get(ctx, "doomed", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("pod still there: %v", err)
			}
		})
	}
}

// TestKubectlExec runs kubectl exec through the apiserver to a fake
// kubelet: kubectl 1.28 over SPDY, kubectl 1.32 over WebSocket (translated
// or passed through) and, with websockets turned off, over SPDY.
func TestKubectlExec(t *testing.T) {
	for _, mode := range []StreamingMode{StreamingTranslate, StreamingPassthrough} {
		t.Run(string(mode), func(t *testing.T) {
			ts, kubelet := streamStack(t, mode)
			if _, err := ts.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				bin    string
				env    []string
				want   string
				method string
			}{
				{"1.28", nil, "demo/main: echo hi\n", "POST"},
				{latestKubectl, []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}, "demo/main: echo hi\n", "POST"},
				{latestKubectl, nil, map[StreamingMode]string{StreamingTranslate: "demo/main: echo hi\n", StreamingPassthrough: "websocket: echo hi\n"}[mode],
					map[StreamingMode]string{StreamingTranslate: "POST", StreamingPassthrough: "GET"}[mode]},
			} {
				r := ts.kubectl(t, c.bin, c.env, nil, "exec", "demo", "--", "echo", "hi")
				if r.code != 0 || r.stdout != c.want {
					t.Errorf("%s %v exec: exit %d, stdout %q, stderr %q; want %q", c.bin, c.env, r.code, r.stdout, r.stderr, c.want)
				}
				if req := kubelet.lastRequest(t); req.Method != c.method || req.URL.Path != "/exec/default/demo/main" || req.URL.RawQuery != "command=echo&command=hi&error=1&output=1" {
					t.Errorf("%s %v: kubelet got %s %s?%s", c.bin, c.env, req.Method, req.URL.Path, req.URL.RawQuery)
				}
			}
			for _, bin := range kubectls {
				for _, c := range []struct {
					args   []string
					stderr string
				}{
					{[]string{"exec", "x", "--", "true"}, "Error from server (NotFound): pods \"x\" not found\n"},
					{[]string{"exec", "demo", "-c", "nope", "--", "true"}, "Error from server (BadRequest): container nope is not valid for pod demo\n"},
					{[]string{"exec", "-n", "elsewhere", "demo", "--", "true"}, "Error from server (NotFound): pods \"demo\" not found\n"},
					// After a NotFound kubectl looks the namespace up.
					{[]string{"exec", "-n", "nowhere", "demo", "--", "true"}, "Error from server (NotFound): namespaces \"nowhere\" not found\n"},
				} {
					r := ts.kubectl(t, bin, nil, nil, c.args...)
					if r.code != 1 || r.stdout != "" || r.stderr != c.stderr {
						t.Errorf("%s %v: exit %d, stdout %q, stderr %q; want %q", bin, c.args, r.code, r.stdout, r.stderr, c.stderr)
					}
				}
				r := ts.kubectl(t, bin, nil, nil, "logs", "demo")
				if r.code != 0 || r.stdout != "line 1\nline 2\n" {
					t.Errorf("%s logs: exit %d, stdout %q, stderr %q", bin, r.code, r.stdout, r.stderr)
				}
			}
		})
	}
}
