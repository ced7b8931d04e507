package kubelet

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/execlab/execlab/internal/testutil"
)

func TestNodeRegistration(t *testing.T) {
	e := newEnv(t)
	var node *v1.Node
	waitFor(t, "node status", func() bool {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
		if err != nil || len(n.Status.Conditions) == 0 {
			return false
		}
		node = n
		return true
	})
	u, _ := url.Parse(e.base)
	port, _ := strconv.Atoi(u.Port())
	if got := node.Status.DaemonEndpoints.KubeletEndpoint.Port; int(got) != port {
		t.Errorf("kubelet endpoint port %d, want %d", got, port)
	}
	if got := node.Labels[v1.LabelHostname]; got != testNode {
		t.Errorf("hostname label %q", got)
	}
	if node.Labels[v1.LabelOSStable] != runtime.GOOS || node.Labels[v1.LabelArchStable] != runtime.GOARCH {
		t.Errorf("labels %v", node.Labels)
	}
	want := []v1.NodeAddress{{Type: v1.NodeInternalIP, Address: "127.0.0.1"}, {Type: v1.NodeHostName, Address: testNode}}
	if len(node.Status.Addresses) != 2 || node.Status.Addresses[0] != want[0] || node.Status.Addresses[1] != want[1] {
		t.Errorf("addresses %v, want %v", node.Status.Addresses, want)
	}
	info := node.Status.NodeInfo
	if info.KubeletVersion != "v1.37.2" || info.ContainerRuntimeVersion != "fake-cri-test://1.2.3" ||
		info.OperatingSystem != runtime.GOOS || info.Architecture != runtime.GOARCH || info.KernelVersion == "" || info.BootID == "" {
		t.Errorf("node info %+v", info)
	}
	capacity := node.Status.Capacity
	if capacity.Cpu().Value() != int64(runtime.NumCPU()) || capacity.Pods().Value() != 110 || capacity.Memory().Value() <= 0 {
		t.Errorf("capacity %v", capacity)
	}
	allocatable := node.Status.Allocatable
	wantMemory := capacity.Memory().DeepCopy()
	wantMemory.Sub(resource.MustParse("100Mi"))
	if allocatable.Memory().Cmp(wantMemory) != 0 || allocatable.Cpu().Cmp(*capacity.Cpu()) != 0 {
		t.Errorf("allocatable %v for capacity %v", allocatable, capacity)
	}
	var ready *v1.NodeCondition
	for i, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			ready = &node.Status.Conditions[i]
		}
	}
	if ready == nil || ready.Status != v1.ConditionTrue || ready.Reason != "KubeletReady" || ready.Message != "kubelet is posting ready status" {
		t.Fatalf("Ready condition %+v", ready)
	}

	// The heartbeat moves on; the transition time stays.
	first := *ready
	waitFor(t, "a later heartbeat", func() bool {
		n, err := e.client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
		if err != nil {
			return false
		}
		for _, c := range n.Status.Conditions {
			if c.Type == v1.NodeReady && c.LastHeartbeatTime.After(first.LastHeartbeatTime.Time) {
				if !c.LastTransitionTime.Equal(&first.LastTransitionTime) {
					t.Errorf("transition time moved from %v to %v", first.LastTransitionTime, c.LastTransitionTime)
				}
				return true
			}
		}
		return false
	})
}

// TestNodeAdopted starts a kubelet whose node already exists, as after a
// restart: the node is kept and its status refreshed.
func TestNodeAdopted(t *testing.T) {
	testutil.CheckGoroutines(t)
	client := fake.NewClientset(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, Labels: map[string]string{"keep": "me"}}})
	e := &testEnv{t: t, cri: newFakeCRI(t), client: client, rootDir: t.TempDir(), logs: &testutil.SyncBuffer{}}
	e.start()
	t.Cleanup(func() { e.stop() })
	var node *v1.Node
	waitFor(t, "node status", func() bool {
		n, err := client.CoreV1().Nodes().Get(context.Background(), testNode, metav1.GetOptions{})
		node = n
		return err == nil && len(n.Status.Conditions) > 0
	})
	if node.Labels["keep"] != "me" || node.Labels[v1.LabelHostname] != testNode {
		t.Errorf("labels of the adopted node: %v", node.Labels)
	}
}

// TestNodeLease: the kubelet keeps a Lease named for its node in
// kube-node-lease, owned by the node and renewed every quarter of its
// duration; the node's status, unchanged, is not posted again before
// NodeStatusReportFrequency.
func TestNodeLease(t *testing.T) {
	testutil.CheckGoroutines(t)
	client := fake.NewClientset(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: testNode, UID: "node-uid"}})
	e := &testEnv{t: t, cri: newFakeCRI(t), client: client, rootDir: t.TempDir(), logs: &testutil.SyncBuffer{}, statusReport: time.Hour}
	e.start()
	t.Cleanup(func() { e.stop() })
	leases := client.CoordinationV1().Leases(v1.NamespaceNodeLease)
	var first *coordinationv1.Lease
	waitFor(t, "the node's lease", func() bool {
		l, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		first = l
		return err == nil
	})
	want := []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: testNode, UID: "node-uid"}}
	if h := first.Spec.HolderIdentity; h == nil || *h != testNode || !slices.Equal(first.OwnerReferences, want) {
		t.Errorf("lease holder %v, owners %v; want %s, %v", h, first.OwnerReferences, testNode, want)
	}
	if d := first.Spec.LeaseDurationSeconds; d == nil || *d != 1 || first.Spec.RenewTime == nil {
		t.Fatalf("lease duration %v, renew time %v; want 1 and a time", d, first.Spec.RenewTime)
	}
	waitFor(t, "a renewal", func() bool {
		l, err := leases.Get(context.Background(), testNode, metav1.GetOptions{})
		return err == nil && l.Spec.RenewTime.After(first.Spec.RenewTime.Time)
	})
	// Registration posted the status; the 50ms updates found nothing new.
	patches := func() int {
		n := 0
		for _, a := range client.Actions() {
			if a.GetVerb() == "patch" && a.GetResource().Resource == "nodes" && a.GetSubresource() == "status" {
				n++
			}
		}
		return n
	}
	before := patches()
	time.Sleep(500 * time.Millisecond)
	if before != 1 || patches() != 1 {
		t.Errorf("status patches: %d after registration, %d half a second later; want 1, 1", before, patches())
	}
}

// TestHeartbeatConfig: the kubelet configuration file sets the Lease's
// duration and the status frequencies, and refuses a negative one.
func TestHeartbeatConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write := func(body string) {
		if err := os.WriteFile(path, []byte("apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("nodeLeaseDurationSeconds: 8\nnodeStatusUpdateFrequency: 2s\nnodeStatusReportFrequency: 1m\n")
	var cfg Config
	if err := LoadConfigFile(path, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.NodeLeaseDurationSeconds != 8 || cfg.NodeStatusUpdateFrequency != 2*time.Second || cfg.NodeStatusReportFrequency != time.Minute {
		t.Errorf("lease %d s, update %v, report %v; want 8, 2s, 1m", cfg.NodeLeaseDurationSeconds, cfg.NodeStatusUpdateFrequency, cfg.NodeStatusReportFrequency)
	}
	for body, want := range map[string]string{
		"nodeLeaseDurationSeconds: -1\n":   "nodeLeaseDurationSeconds (--node-lease-duration-seconds) -1 must be greater than 0",
		"nodeStatusReportFrequency: -1s\n": "nodeStatusReportFrequency -1s must be greater than 0",
	} {
		write(body)
		if err := LoadConfigFile(path, &Config{}); err == nil || err.Error() != "kubelet config "+path+": "+want {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}

func TestSetNodeStatusKeepsTransitionTime(t *testing.T) {
	k := &Kubelet{cfg: Config{NodeName: "n", FeatureGates: NewFeatureGate()}, nodeIP: "127.0.0.1"}
	node := &v1.Node{}
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	k.setNodeStatus(node, 10250, t0)
	node.Status.Conditions[3].Status = v1.ConditionFalse // Ready was False
	k.setNodeStatus(node, 10250, t0.Add(time.Minute))
	k.setNodeStatus(node, 10250, t0.Add(2*time.Minute))
	for _, c := range node.Status.Conditions {
		wantTransition := t0
		if c.Type == v1.NodeReady {
			wantTransition = t0.Add(time.Minute)
		}
		if !c.LastTransitionTime.Time.Equal(wantTransition) || !c.LastHeartbeatTime.Time.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("%s: transition %v (want %v), heartbeat %v", c.Type, c.LastTransitionTime, wantTransition, c.LastHeartbeatTime)
		}
	}
	if len(node.Status.Conditions) != 4 {
		t.Errorf("%d conditions, want 4", len(node.Status.Conditions))
	}
}

// TestDeclaredFeatures: the node declares ExtendWebSocketsToKubelet, on by
// default as upstream's gate since 1.36, and nothing once it is turned off.
func TestDeclaredFeatures(t *testing.T) {
	for gates, want := range map[string][]string{
		"":                                {"ExtendWebSocketsToKubelet"},
		"ExtendWebSocketsToKubelet=true":  {"ExtendWebSocketsToKubelet"},
		"ExtendWebSocketsToKubelet=false": nil,
	} {
		g := NewFeatureGate()
		if err := g.Set(gates); err != nil {
			t.Fatal(err)
		}
		k := &Kubelet{cfg: Config{NodeName: "n", FeatureGates: g}, nodeIP: "127.0.0.1"}
		node := &v1.Node{}
		k.setNodeStatus(node, 10250, time.Now())
		if !slices.Equal(node.Status.DeclaredFeatures, want) {
			t.Errorf("--feature-gates %q: declared %q, want %q", gates, node.Status.DeclaredFeatures, want)
		}
	}
}
