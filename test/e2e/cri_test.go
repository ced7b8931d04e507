package e2e

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestCRIConsistency runs the same pod on fake-cri and on containerd and
// reads both runtimes as a CRI client other than the kubelet would
// (crictl's calls): ListPodSandbox, ListContainers and ContainerStatus must
// show the same io.kubernetes.* labels and annotations, metadata and states.
// Only the pod UID differs, as each apiserver assigns its own.
func TestCRIConsistency(t *testing.T) {
	if runtimeName != containerdRuntime {
		t.Skip("compares fake-cri with containerd: needs EXECLAB_E2E_RUNTIME=containerd (make test-containerd)")
	}
	t.Parallel()
	pod := func() *corev1.Pod {
		return &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "twin", Labels: map[string]string{"app": "twin"}},
			Spec: corev1.PodSpec{
				RestartPolicy: corev1.RestartPolicyNever,
				Containers: []corev1.Container{
					{Name: "runs", Image: "busybox", Command: []string{"sleep", "1000000"}},
					{Name: "exits", Image: "busybox", Command: []string{"sh", "-c", "exit 3"}},
				},
			},
		}
	}
	// One running container, one that has exited with 3.
	settled := func(p *corev1.Pod) bool {
		var running, exited bool
		for _, c := range p.Status.ContainerStatuses {
			running = running || (c.Name == "runs" && c.State.Running != nil)
			exited = exited || (c.Name == "exits" && c.State.Terminated != nil)
		}
		return running && exited
	}
	fake := newStackOn(t, fakeRuntime, execlabtest.Options{})
	runtimes := []struct {
		name  string
		stack *execlabtest.Stack
	}{{fakeRuntime, fake}, {containerdRuntime, shared}}
	views := map[string]criView{}
	for _, r := range runtimes {
		p := createPodUntil(t, r.stack, pod(), settled)
		views[r.name] = readCRI(t, r.stack.Nodes[0].CRIEndpoint, string(p.UID))
	}
	if c := views[containerdRuntime]; c["ListPodSandbox/count"] != "1" || c["ListContainers/count"] != "2" {
		t.Fatalf("containerd shows %s sandboxes and %s containers of the pod, want 1 and 2", c["ListPodSandbox/count"], c["ListContainers/count"])
	}
	t.Logf("compared %d fields", len(views[containerdRuntime]))
	if f, c := views[fakeRuntime], views[containerdRuntime]; !maps.Equal(f, c) {
		for key := range mapsUnion(f, c) {
			if f[key] != c[key] {
				t.Errorf("%s: fake-cri %q, containerd %q", key, f[key], c[key])
			}
		}
	}
}

// criView is what a CRI client reads about one pod, flattened to
// "call/object/field" → value, with the pod's UID replaced by "<uid>".
type criView map[string]string

func readCRI(t *testing.T, endpoint, uid string) criView {
	t.Helper()
	ctx := context.Background()
	rs := criClientFor(t, endpoint)
	selector := map[string]string{"io.kubernetes.pod.uid": uid}
	view := criView{}
	put := func(key, value string) { view[key] = strings.ReplaceAll(value, uid, "<uid>") }
	putK8s := func(prefix string, m map[string]string) {
		for k, v := range m {
			if strings.HasPrefix(k, "io.kubernetes.") {
				put(prefix+"/"+k, v)
			}
		}
	}

	sandboxes, err := rs.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: selector}})
	if err != nil {
		t.Fatalf("ListPodSandbox on %s: %v", endpoint, err)
	}
	put("ListPodSandbox/count", strconv.Itoa(len(sandboxes.Items)))
	for _, s := range sandboxes.Items {
		p := "ListPodSandbox/" + s.Metadata.Name
		put(p+"/metadata", s.Metadata.Namespace+"/"+s.Metadata.Name+"/"+s.Metadata.Uid+"/attempt "+strconv.Itoa(int(s.Metadata.Attempt)))
		put(p+"/state", s.State.String())
		putK8s(p+"/label", s.Labels)
		putK8s(p+"/annotation", s.Annotations)
	}

	containers, err := rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: selector}})
	if err != nil {
		t.Fatalf("ListContainers on %s: %v", endpoint, err)
	}
	put("ListContainers/count", strconv.Itoa(len(containers.Containers)))
	for _, c := range containers.Containers {
		p := "ListContainers/" + c.Metadata.Name
		put(p+"/attempt", strconv.Itoa(int(c.Metadata.Attempt)))
		put(p+"/state", c.State.String())
		putK8s(p+"/label", c.Labels)
		putK8s(p+"/annotation", c.Annotations)

		resp, err := rs.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: c.Id})
		if err != nil {
			t.Fatalf("ContainerStatus %s on %s: %v", c.Id, endpoint, err)
		}
		st := resp.Status
		p = "ContainerStatus/" + st.Metadata.Name
		put(p+"/state", st.State.String())
		put(p+"/exitCode", strconv.Itoa(int(st.ExitCode)))
		put(p+"/reason", st.Reason)
		put(p+"/started", strconv.FormatBool(st.StartedAt != 0))
		put(p+"/finished", strconv.FormatBool(st.FinishedAt != 0))
		putK8s(p+"/label", st.Labels)
		putK8s(p+"/annotation", st.Annotations)
	}
	return view
}

func mapsUnion(a, b criView) map[string]bool {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return keys
}
