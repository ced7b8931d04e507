package kubelet

import (
	"context"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

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
