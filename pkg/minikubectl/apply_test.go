package minikubectl

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

const appliedPod = `apiVersion: v1
kind: Pod
metadata:
  name: applied
spec:
  containers:
  - name: app
    image: busybox
    command: ["sleep", "1"]
`

func TestApply(t *testing.T) {
	api := newFakeAPI(t)
	dir := t.TempDir()
	manifest := filepath.Join(dir, "pod.yaml")
	os.WriteFile(manifest, []byte(appliedPod), 0o644)

	if r := api.run(nil, "apply", "-f", manifest); r != (result{stdout: "pod/applied created\n"}) {
		t.Fatalf("create: %+v", r)
	}
	pod := api.pod("default", "applied")
	if pod == nil {
		t.Fatal("no pod created")
	}
	// The annotation is the object as applied, annotations emptied, as kubectl writes it.
	wantConfig := `{"apiVersion":"v1","kind":"Pod","metadata":{"annotations":{},"name":"applied","namespace":"default"},"spec":{"containers":[{"command":["sleep","1"],"image":"busybox","name":"app"}]}}` + "\n"
	if got := pod.Annotations[lastAppliedAnnotation]; got != wantConfig {
		t.Errorf("last-applied annotation\n%q, want\n%q", got, wantConfig)
	}

	// The server defaulted a field the file does not mention: the
	// three-way merge leaves it alone.
	if r := api.run(nil, "apply", "-f", manifest); r != (result{stdout: "pod/applied unchanged\n"}) {
		t.Errorf("same file again: %+v", r)
	}

	labelled := strings.Replace(appliedPod, "  name: applied\n", "  name: applied\n  labels:\n    app: demo\n", 1)
	os.WriteFile(manifest, []byte(labelled), 0o644)
	if r := api.run(nil, "apply", "-f", manifest); r != (result{stdout: "pod/applied configured\n"}) {
		t.Errorf("with a label: %+v", r)
	}
	pod = api.pod("default", "applied")
	if pod.Labels["app"] != "demo" || pod.Spec.Containers[0].TerminationMessagePath != corev1.TerminationMessagePathDefault ||
		!strings.Contains(pod.Annotations[lastAppliedAnnotation], `"labels":{"app":"demo"}`) {
		t.Errorf("after configure: labels %v, container %+v, annotation %q", pod.Labels, pod.Spec.Containers[0], pod.Annotations[lastAppliedAnnotation])
	}
}

func TestApplyStdinAndErrors(t *testing.T) {
	api := newFakeAPI(t)
	existing := runningPod("old", "main")
	api.addPod(existing)

	twoDocs := "---\n" + strings.Replace(appliedPod, "  name: applied\n", "  name: other\n  namespace: elsewhere\n", 1) +
		"---\n" + strings.Replace(appliedPod, "  name: applied\n", "  name: old\n", 1)
	r := api.run(strings.NewReader(twoDocs), "apply", "-f", "-")
	want := result{
		stdout: "pod/other created\npod/old configured\n",
		stderr: "Warning: resource pods/old is missing the kubectl.kubernetes.io/last-applied-configuration annotation which is required by kubectl apply. " +
			"kubectl apply should only be used on resources created declaratively by either kubectl create --save-config or kubectl apply. " +
			"The missing annotation will be patched automatically.\n",
	}
	if r != want {
		t.Errorf("two documents on stdin: got %+v, want %+v", r, want)
	}
	if api.pod("elsewhere", "other") == nil {
		t.Error("the object's own namespace was not used")
	}

	for _, tc := range []struct {
		name, stdin string
		args        []string
		stderr      string
	}{
		{
			name: "namespace mismatch", stdin: strings.Replace(appliedPod, "  name: applied\n", "  name: x\n  namespace: elsewhere\n", 1),
			args:   []string{"-n", "default"},
			stderr: "error: the namespace from the provided object \"elsewhere\" does not match the namespace \"default\". You must pass '--namespace=elsewhere' to perform this operation.\n",
		},
		{
			name: "no kind", stdin: "apiVersion: v1\nmetadata:\n  name: x\n",
			stderr: "error: error validating \"STDIN\": error validating data: kind not set\n",
		},
		{
			name: "not YAML", stdin: "kind: [\n",
			stderr: "error: error parsing STDIN: error converting YAML to JSON: yaml: line 1: did not find expected node content\n",
		},
		{
			name: "unknown kind", stdin: "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: x\n",
			stderr: "error: no matches for kind \"Widget\" in version \"example.com/v1\"\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.run(strings.NewReader(tc.stdin), append(tc.args, "apply", "-f", "-")...)
			if r != (result{stderr: tc.stderr, code: 1}) {
				t.Errorf("got %+v, want exit 1 and stderr %q", r, tc.stderr)
			}
		})
	}
	if r := api.run(nil, "apply"); r.code != 1 || !strings.HasPrefix(r.stderr, "error: must specify one of -f and -k\n") {
		t.Errorf("no -f: %+v", r)
	}
}

func FuzzDecodeObjects(f *testing.F) {
	f.Add([]byte(appliedPod))
	f.Add([]byte("---\n{\"kind\":\"List\",\"apiVersion\":\"v1\",\"items\":[{\"kind\":\"Pod\",\"apiVersion\":\"v1\"}]}\n---\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := decodeObjects(strings.NewReader(string(data)), "fuzz")
		if err != nil {
			return
		}
		for _, obj := range objs {
			if obj.GetKind() == "" {
				t.Errorf("object without a kind: %v", obj.Object)
			}
		}
	})
}
