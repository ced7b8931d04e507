package e2e

import (
	"context"
	"regexp"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestNodeLease: each kubelet keeps a Lease named for its node in
// kube-node-lease, owned by the node, which real kubectl lists as on a
// real cluster; deleting the node deletes its Lease, as the garbage
// collector does, and the kubelet does not make it again without a node.
func TestNodeLease(t *testing.T) {
	t.Parallel()
	s := newStack(t, execlabtest.Options{Nodes: []string{"node-a", "node-b"}})
	listed := regexp.MustCompile(`\ANAME +HOLDER +AGE\nnode-a +node-a +\S+\nnode-b +node-b +\S+\n\z`)
	var out string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		r := kubectlLatest.run(t, s, nil, "get", "leases", "-n", "kube-node-lease")
		if out = r.stdout; r.code == 0 && listed.MatchString(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl get leases -n kube-node-lease, 30 s on (exit %d, stderr %q):\n%s", r.code, r.stderr, out)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	leases := s.Client().CoordinationV1().Leases(corev1.NamespaceNodeLease)
	node, err := s.Client().CoreV1().Nodes().Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	lease, err := leases.Get(ctx, "node-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owners := lease.OwnerReferences
	if len(owners) != 1 || owners[0].Kind != "Node" || owners[0].APIVersion != "v1" || owners[0].Name != "node-a" || owners[0].UID != node.UID {
		t.Errorf("lease owners %+v, want node-a's UID %s", owners, node.UID)
	}
	if d := lease.Spec.LeaseDurationSeconds; d == nil || *d != 40 || lease.Spec.RenewTime == nil {
		t.Errorf("lease duration %v, renew time %v; want upstream's 40 and a time", d, lease.Spec.RenewTime)
	}

	if err := s.Client().CoreV1().Nodes().Delete(ctx, "node-a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := leases.Get(ctx, "node-a", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-a's lease 10 s after its node was deleted: %v", err)
		}
	}
	// Past one renewal of node-b's (every 10 s): node-a's stays gone.
	before, err := leases.Get(ctx, "node-b", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		after, err := leases.Get(ctx, "node-b", metav1.GetOptions{})
		if err == nil && after.Spec.RenewTime.After(before.Spec.RenewTime.Time) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node-b's lease not renewed in 20 s: %v", err)
		}
	}
	if _, err := leases.Get(ctx, "node-a", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node-a's lease after node-b's renewal: %v, want NotFound", err)
	}
}
