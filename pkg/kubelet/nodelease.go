package kubelet

import (
	"context"
	"fmt"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/component-helpers/apimachinery/lease"
	"k8s.io/utils/clock"
)

// The node's heartbeat: a Lease named for the node in kube-node-lease,
// renewed every quarter of its duration, as pkg/kubelet/kubelet.go sets up
// upstream's lease controller (k8s.io/component-helpers/apimachinery/lease,
// used here as it is) with pkg/kubelet/util/nodelease.go's owner. The node's
// status then needs posting only when it changes (node.go).

// nodeLeaseRenewIntervalFraction is upstream's: the Lease is renewed every
// quarter of its duration.
const nodeLeaseRenewIntervalFraction = 0.25

func (k *Kubelet) newNodeLeaseController() lease.Controller {
	renew := time.Duration(float64(k.cfg.NodeLeaseDurationSeconds) * nodeLeaseRenewIntervalFraction * float64(time.Second))
	// Upstream also closes the heartbeat client's connections then (its
	// connrotation dialer), against a connection that died unseen; the
	// Config's client is the caller's, so this kubelet only says it.
	onFailure := func() { k.log.Warn("node lease: repeated renewal failures", "node", k.cfg.NodeName) }
	return lease.NewController(clock.RealClock{}, k.client, k.cfg.NodeName, k.cfg.NodeLeaseDurationSeconds,
		onFailure, renew, k.cfg.NodeName, v1.NamespaceNodeLease, k.setNodeOwner)
}

// setNodeOwner makes the node the Lease's owner, so that the Lease goes with
// it; the node's UID is read until it can be (SetNodeOwnerFunc upstream).
func (k *Kubelet) setNodeOwner(l *coordinationv1.Lease) error {
	if len(l.OwnerReferences) > 0 {
		return nil
	}
	node, err := k.client.CoreV1().Nodes().Get(context.TODO(), k.cfg.NodeName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node lease: owner %s: %w", k.cfg.NodeName, err)
	}
	l.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: k.cfg.NodeName, UID: node.UID}}
	return nil
}
