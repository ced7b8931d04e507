package kubelet

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	nodeutil "k8s.io/component-helpers/node/util"
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

// nodeStatusLoop computes the node's status every
// NodeStatusUpdateFrequency and posts it when it changed, or when
// NodeStatusReportFrequency has passed since the last post: the Lease is the
// heartbeat (kubelet_node_status.go syncNodeStatus).
func (k *Kubelet) nodeStatusLoop(ctx context.Context, port int) {
	ticker := time.NewTicker(k.cfg.NodeStatusUpdateFrequency)
	defer ticker.Stop()
	lastReport := time.Now() // registerNode has just posted it
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		posted, err := k.syncNodeStatus(ctx, port, time.Since(lastReport) >= k.cfg.NodeStatusReportFrequency)
		switch {
		case err != nil && ctx.Err() == nil:
			k.log.Error("update node status", "err", err)
		case posted:
			lastReport = time.Now()
		}
	}
}

// nodeStatusUpdateRetry is upstream's: the tries of one status update.
const nodeStatusUpdateRetry = 5

// updateNodeStatus posts the node's status with a fresh heartbeat.
func (k *Kubelet) updateNodeStatus(ctx context.Context, port int) error {
	_, err := k.syncNodeStatus(ctx, port, true)
	return err
}

// syncNodeStatus computes the node's status and patches it in when it
// changed or force is set, and says whether it did; a failed try is tried
// again, up to nodeStatusUpdateRetry times (updateNodeStatus and
// tryUpdateNodeStatus upstream, the first read from the apiserver's cache).
func (k *Kubelet) syncNodeStatus(ctx context.Context, port int, force bool) (bool, error) {
	var err error
	for try := range nodeStatusUpdateRetry {
		var posted bool
		if posted, err = k.tryUpdateNodeStatus(ctx, port, try, force); err == nil {
			return posted, nil
		}
		if ctx.Err() != nil {
			return false, err
		}
	}
	return false, fmt.Errorf("update node status exceeds retry count: %w", err)
}

func (k *Kubelet) tryUpdateNodeStatus(ctx context.Context, port, try int, force bool) (bool, error) {
	opts := metav1.GetOptions{}
	if try == 0 {
		opts.ResourceVersion = "0"
	}
	original, err := k.client.CoreV1().Nodes().Get(ctx, k.cfg.NodeName, opts)
	if err != nil {
		return false, fmt.Errorf("get node %s: %w", k.cfg.NodeName, err)
	}
	node := original.DeepCopy()
	k.setNodeStatus(node, port, time.Now())
	if !force && !nodeStatusHasChanged(&original.Status, &node.Status) {
		return false, nil
	}
	if _, _, err := nodeutil.PatchNodeStatus(k.client.CoreV1(), types.NodeName(k.cfg.NodeName), original, node); err != nil {
		return false, err
	}
	return true, nil
}

// nodeStatusHasChanged compares two statuses but for the conditions'
// heartbeats (kubelet_node_status.go's).
func nodeStatusHasChanged(old, cur *v1.NodeStatus) bool {
	if len(old.Conditions) != len(cur.Conditions) {
		return true
	}
	heartbeatless := func(s *v1.NodeStatus) *v1.NodeStatus {
		c := s.DeepCopy()
		for i := range c.Conditions {
			c.Conditions[i].LastHeartbeatTime = metav1.Time{}
		}
		slices.SortFunc(c.Conditions, func(a, b v1.NodeCondition) int { return strings.Compare(string(a.Type), string(b.Type)) })
		return c
	}
	return !apiequality.Semantic.DeepEqual(heartbeatless(old), heartbeatless(cur))
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
