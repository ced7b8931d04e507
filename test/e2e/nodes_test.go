package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestTwoNodes puts a pod on each of two nodes and checks that exec reaches
// the runtime of the node the pod is bound to.
func TestTwoNodes(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{Nodes: []string{"node-a", "node-b"}})
	for _, n := range s.Nodes {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: "on-" + n.Name},
			Spec: corev1.PodSpec{
				NodeName: n.Name,
				Containers: []corev1.Container{{
					Name: "c", Image: "busybox", Command: []string{"sleep", "1000000"},
					Env: []corev1.EnvVar{{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{
						FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"},
					}}},
				}},
			},
		}
		createPod(t, s, pod)
	}
	for _, n := range s.Nodes {
		r := miniSPDY.run(t, s, nil, "exec", "on-"+n.Name, "--", "sh", "-c", `echo "$NODE_NAME"; pwd`)
		lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
		if r.code != 0 || len(lines) != 2 {
			t.Fatalf("exec on-%s: exit %d, stdout %q, stderr %q", n.Name, r.code, r.stdout, r.stderr)
		}
		if lines[0] != n.Name {
			t.Errorf("pod on %s sees NODE_NAME %q", n.Name, lines[0])
		}
		switch runtimeName {
		case fakeRuntime:
			// Each node has a fake-cri of its own, which runs a container
			// in a directory under its root.
			if !strings.HasPrefix(lines[1], n.RuntimeDir+"/") {
				t.Errorf("exec for a pod on %s ran in %q, not under that node's runtime dir %s", n.Name, lines[1], n.RuntimeDir)
			}
		case containerdRuntime:
			// Both kubelets share the one containerd; a container starts
			// in its image's working directory, busybox's "/".
			if lines[1] != "/" {
				t.Errorf("exec for a pod on %s ran in %q, want /", n.Name, lines[1])
			}
		}
	}
}
