package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

// maxPods is the kubelet's default --max-pods.
const maxPods = 110

// hardEvictionMemory is the default memory.available<100Mi eviction
// threshold, which upstream subtracts from allocatable memory.
var hardEvictionMemory = resource.MustParse("100Mi")

// registerNode creates the node, or adopts the one left by an earlier run,
// then writes its status (kubelet_node_status.go registerWithAPIServer).
func (k *Kubelet) registerNode(ctx context.Context, port int) error {
	nodes := k.client.CoreV1().Nodes()
	_, err := nodes.Create(ctx, k.initialNode(), metav1.CreateOptions{})
	switch {
	case err == nil:
		k.log.Info("registered node")
	case apierrors.IsAlreadyExists(err):
		existing, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get existing node: %w", err)
		}
		if !hasLabels(existing.Labels, k.initialNode().Labels) {
			if existing.Labels == nil {
				existing.Labels = map[string]string{}
			}
			for key, v := range k.initialNode().Labels {
				existing.Labels[key] = v
			}
			if _, err := nodes.Update(ctx, existing, metav1.UpdateOptions{}); err != nil {
				return fmt.Errorf("update existing node: %w", err)
			}
		}
		k.log.Info("adopted existing node")
	default:
		return fmt.Errorf("create node: %w", err)
	}
	return k.updateNodeStatus(ctx, port)
}

func hasLabels(have, want map[string]string) bool {
	for key, v := range want {
		if have[key] != v {
			return false
		}
	}
	return true
}

// initialNode is the Node object as the kubelet first creates it.
func (k *Kubelet) initialNode() *v1.Node {
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: k.cfg.NodeName,
			Labels: map[string]string{
				v1.LabelHostname:          k.cfg.NodeName,
				v1.LabelOSStable:          goruntime.GOOS,
				v1.LabelArchStable:        goruntime.GOARCH,
				"beta.kubernetes.io/os":   goruntime.GOOS,
				"beta.kubernetes.io/arch": goruntime.GOARCH,
			},
		},
	}
}

// nodeStatusLoop keeps the node's Ready condition fresh.
func (k *Kubelet) nodeStatusLoop(ctx context.Context, port int) {
	ticker := time.NewTicker(k.cfg.NodeStatusUpdateFrequency)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		if err := k.updateNodeStatus(ctx, port); err != nil && ctx.Err() == nil {
			k.log.Error("update node status", "err", err)
		}
	}
}

// updateNodeStatus writes the node's status with a fresh heartbeat,
// retrying on conflict (kubelet_node_status.go tryUpdateNodeStatus, up to
// nodeStatusUpdateRetry times there, as many as retry.DefaultRetry here).
func (k *Kubelet) updateNodeStatus(ctx context.Context, port int) error {
	nodes := k.client.CoreV1().Nodes()
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		node, err := nodes.Get(ctx, k.cfg.NodeName, metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("get node: %w", err)
		}
		k.setNodeStatus(node, port, time.Now())
		if _, err := nodes.UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("update node status: %w", err)
		}
		return nil
	})
}

// setNodeStatus fills in the status as pkg/kubelet/nodestatus/setters.go
// does: addresses, daemon endpoint, machine info, declared features,
// capacity and conditions.
func (k *Kubelet) setNodeStatus(node *v1.Node, port int, now time.Time) {
	s := &node.Status
	s.Addresses = []v1.NodeAddress{
		{Type: v1.NodeInternalIP, Address: k.nodeIP},
		{Type: v1.NodeHostName, Address: k.cfg.NodeName},
	}
	s.DaemonEndpoints.KubeletEndpoint.Port = int32(port)
	s.NodeInfo = k.nodeInfo()
	s.DeclaredFeatures = declaredFeatures(k.cfg.FeatureGates)
	s.Capacity = v1.ResourceList{
		v1.ResourceCPU:    *resource.NewQuantity(int64(goruntime.NumCPU()), resource.DecimalSI),
		v1.ResourceMemory: *resource.NewQuantity(k.memoryCapacity, resource.BinarySI),
		v1.ResourcePods:   *resource.NewQuantity(maxPods, resource.DecimalSI),
	}
	allocatableMemory := resource.NewQuantity(k.memoryCapacity, resource.BinarySI)
	allocatableMemory.Sub(hardEvictionMemory)
	if allocatableMemory.Sign() < 0 {
		allocatableMemory.Set(0)
	}
	s.Allocatable = v1.ResourceList{
		v1.ResourceCPU:    s.Capacity[v1.ResourceCPU],
		v1.ResourceMemory: *allocatableMemory,
		v1.ResourcePods:   s.Capacity[v1.ResourcePods],
	}
	heartbeat := metav1.NewTime(now)
	for _, want := range []v1.NodeCondition{
		{Type: v1.NodeMemoryPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientMemory", Message: "kubelet has sufficient memory available"},
		{Type: v1.NodeDiskPressure, Status: v1.ConditionFalse, Reason: "KubeletHasNoDiskPressure", Message: "kubelet has no disk pressure"},
		{Type: v1.NodePIDPressure, Status: v1.ConditionFalse, Reason: "KubeletHasSufficientPID", Message: "kubelet has sufficient PID available"},
		{Type: v1.NodeReady, Status: v1.ConditionTrue, Reason: "KubeletReady", Message: "kubelet is posting ready status"},
	} {
		want.LastHeartbeatTime = heartbeat
		want.LastTransitionTime = heartbeat
		found := false
		for i := range s.Conditions {
			if c := &s.Conditions[i]; c.Type == want.Type {
				if c.Status == want.Status {
					want.LastTransitionTime = c.LastTransitionTime
				}
				*c = want
				found = true
			}
		}
		if !found {
			s.Conditions = append(s.Conditions, want)
		}
	}
}

// nodeInfo describes the machine, the runtime and this kubelet.
func (k *Kubelet) nodeInfo() v1.NodeSystemInfo {
	return v1.NodeSystemInfo{
		MachineID:               readTrimmed("/etc/machine-id"),
		SystemUUID:              readTrimmed("/sys/class/dmi/id/product_uuid"),
		BootID:                  readTrimmed("/proc/sys/kernel/random/boot_id"),
		KernelVersion:           readTrimmed("/proc/sys/kernel/osrelease"),
		OSImage:                 osImage(),
		ContainerRuntimeVersion: k.runtimeName + "://" + k.runtimeVersion,
		KubeletVersion:          Version,
		OperatingSystem:         goruntime.GOOS,
		Architecture:            goruntime.GOARCH,
	}
}

func readTrimmed(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}

// osImage is PRETTY_NAME from os-release, as cAdvisor reports it.
func osImage() string {
	data, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Unknown"
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			if u, err := strconv.Unquote(v); err == nil {
				return u
			}
			return v
		}
	}
	return "Unknown"
}

// memoryCapacity is MemTotal from /proc/meminfo in bytes, 0 if unknown.
func memoryCapacity() int64 {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
