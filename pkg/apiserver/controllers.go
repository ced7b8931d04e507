package apiserver

import (
	"context"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/apiserver/registry"
)

// The controllers this server runs in-process, as clients of its store:
// the scheduler (scheduler.go) and, much reduced, the namespace controller
// of kube-controller-manager (pkg/controller/namespace). They are not part
// of the registry: like their upstream counterparts they only act on what
// the API holds.

// kickControllers wakes the scheduler and namespace controller.
func (s *Server) kickControllers() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// runControllers runs the scheduler and the namespace controller on every
// change, and every second for pods that could not be scheduled.
func (s *Server) runControllers(ctx context.Context) {
	retry := time.NewTicker(time.Second)
	defer retry.Stop()
	for {
		s.schedulePending()
		s.finalizeNamespaces()
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
// removes a namespace once no pod is left in it, with its events.
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
		events, _ := s.store.List(registry.Events, ns.GetName(), nil)
		for _, ev := range events {
			if _, err := s.store.Remove(registry.Events, ev.GetNamespace(), ev.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
				s.log.Warn("remove event of terminated namespace", "namespace", ns.GetName(), "event", ev.GetName(), "err", err)
			}
		}
		if _, err := s.store.Remove(registry.Namespaces, "", ns.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("remove terminated namespace", "namespace", ns.GetName(), "err", err)
		}
	}
}
