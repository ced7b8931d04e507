package apiserver

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// The controllers this server runs in-process, as clients of its store:
// the scheduler (scheduler.go) and, much reduced, two of
// kube-controller-manager's: the namespace controller
// (pkg/controller/namespace) and the garbage collector
// (pkg/controller/garbagecollector) for the one kind of owner this stack
// has, a node owning its Lease. They are not part of the registry: like
// their upstream counterparts they only act on what the API holds.

// kickControllers wakes the controllers.
func (s *Server) kickControllers() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// runControllers runs the controllers on every change, and every second
// for pods that could not be scheduled.
func (s *Server) runControllers(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		s.schedulePending()
		s.finalizeNamespaces()
		s.collectNodeLeases()
		select {
		case <-ctx.Done():
			return
		case <-s.kick:
		case <-retry.C:
		}
	}
}

// finalizeNamespaces is the namespace controller: it deletes the pods of
// terminating namespaces, as DELETE with default options would, and
// removes a namespace once no pod is left in it, with its events and
// leases.
func (s *Server) finalizeNamespaces() {
	terminating, _ := s.store.List(registry.Namespaces, "", func(o registry.Object) bool { return o.GetDeletionTimestamp() != nil })
	for _, ns := range terminating {
		pods, _ := s.store.List(registry.Pods, ns.GetName(), nil)
		for _, pod := range pods {
			if pod.GetDeletionTimestamp() == nil {
				if _, _, err := s.store.Delete(registry.Pods, pod.GetNamespace(), pod.GetName(), &metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					s.log.Warn("delete pod of terminating namespace", "namespace", ns.GetName(), "pod", pod.GetName(), "err", err)
				}
			}
		}
		if len(pods) > 0 {
			continue
		}
		for _, res := range []*registry.Resource{registry.Events, registry.Leases} {
			objs, _ := s.store.List(res, ns.GetName(), nil)
			for _, obj := range objs {
				if _, err := s.store.Remove(res, obj.GetNamespace(), obj.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
					s.log.Warn("remove object of terminated namespace", "namespace", ns.GetName(), "object", obj.GetName(), "err", err)
				}
			}
		}
		if _, err := s.store.Remove(registry.Namespaces, "", ns.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("remove terminated namespace", "namespace", ns.GetName(), "err", err)
		}
	}
}

// collectNodeLeases deletes the Leases whose owner node is gone, the node
// of that name and UID, as the garbage collector does with the Lease a
// kubelet makes its node's (a node deleted while its kubelet runs gets a
// new Lease with the node it registers again).
func (s *Server) collectNodeLeases() {
	leases, _ := s.store.List(registry.Leases, "", nil)
	for _, l := range leases {
		for _, owner := range l.GetOwnerReferences() {
			if owner.APIVersion != "v1" || owner.Kind != "Node" {
				continue
			}
			node, err := s.store.Get(registry.Nodes, "", owner.Name)
			switch {
			case err == nil && node.GetUID() == owner.UID:
				continue // the owner is there
			case err != nil && !apierrors.IsNotFound(err):
				continue
			}
			if _, err := s.store.Remove(registry.Leases, l.GetNamespace(), l.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
				s.log.Warn("delete lease of a deleted node", "lease", l.GetNamespace()+"/"+l.GetName(), "node", owner.Name, "err", err)
			}
			break
		}
	}
}
