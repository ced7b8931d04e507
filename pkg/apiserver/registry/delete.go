package registry

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Deletion as the generic registry does it (k8s.io/apiserver/pkg/registry:
// rest/delete.go BeforeDelete, generic/registry/store.go Delete): a pod on a
// node is only marked, with a deletion timestamp a grace period ahead; the
// kubelet stops its containers and deletes it again with a grace period of
// zero, which removes it. Objects with finalizers stay, marked, until the
// last finalizer goes.

// errDeleteNow tells the store, from inside an update, to remove the object.
var errDeleteNow = errors.New("delete now")

// deleteObject deletes ns/name of res and returns what DELETE answers: the
// object (for pods, or while deletion is pending) or a Success Status, and
// whether the object is gone.
func (s *Store) Delete(res *Resource, ns, name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	if errs := metavalidation.ValidateDeleteOptions(opts); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(schema.GroupKind{Group: metav1.GroupName, Kind: "DeleteOptions"}, "", errs)
	}
	if res == Namespaces {
		return s.deleteNamespace(name, opts)
	}
	var graceful, pending bool
	var period int64
	marked, deleted, err := s.GuaranteedUpdate(res, ns, name, func(cur Object) (Object, error) {
		o := *opts
		var err error
		graceful, pending, err = beforeDelete(res, cur, &o)
		if err != nil {
			return nil, err
		}
		if pending {
			return cur, nil
		}
		if !graceful {
			if len(cur.GetFinalizers()) == 0 {
				return nil, errDeleteNow
			}
			markAsDeleting(cur)
			return cur, nil
		}
		period = *o.GracePeriodSeconds
		return cur, nil
	})
	switch {
	case err != nil:
		return nil, false, err
	case deleted:
		return s.deleted(res, marked), true, nil
	case pending || len(marked.GetFinalizers()) > 0 || period > 0:
		return marked, false, nil
	}
	// A graceful delete with no grace left: marked, now removed.
	gone, err := s.Remove(res, ns, name, func(cur Object) error {
		if cur.GetUID() != marked.GetUID() {
			return apierrors.NewNotFound(res.gr, name)
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return s.deleted(res, gone), true, nil
}

// deleted is the answer for a removed object (finalizeDelete upstream).
func (s *Store) deleted(res *Resource, obj Object) runtime.Object {
	if res.returnDeleted {
		return obj
	}
	return &metav1.Status{Status: metav1.StatusSuccess, Details: &metav1.StatusDetails{
		Name:  obj.GetName(),
		Group: res.gr.Group,
		Kind:  res.gr.Resource,
		UID:   obj.GetUID(),
	}}
}

// beforeDelete is rest.BeforeDelete: it checks the preconditions and, for
// a resource with graceful deletion, marks obj (which it may change) with
// the deletion timestamp and grace period. graceful means obj must be
// written; pending means a deletion already under way is left as it is.
func beforeDelete(res *Resource, obj Object, opts *metav1.DeleteOptions) (graceful, pending bool, err error) {
	if err := checkPreconditions(res, obj, opts.Preconditions); err != nil {
		return false, false, err
	}
	if p := opts.GracePeriodSeconds; p != nil && *p < 0 {
		one := int64(1)
		opts.GracePeriodSeconds = &one
	}
	if res.gracefulDelete == nil {
		return false, false, nil
	}
	if ts := obj.GetDeletionTimestamp(); ts != nil {
		current := obj.GetDeletionGracePeriodSeconds()
		if current == nil || *current == 0 {
			return false, false, nil
		}
		if opts.GracePeriodSeconds == nil {
			opts.GracePeriodSeconds = current
			return false, true, nil
		}
		period := *opts.GracePeriodSeconds
		if period >= *current {
			return false, true, nil
		}
		// Only a shorter grace period may be asked for; the deadline moves
		// back, never into the past.
		deadline := ts.Add(-time.Duration(*current) * time.Second).Add(time.Duration(period) * time.Second)
		if now := time.Now(); deadline.Before(now) {
			deadline = now
			if period != 0 {
				period = 1
			}
		}
		setDeletion(obj, deadline, period)
		opts.GracePeriodSeconds = &period
		return true, false, nil
	}
	if !res.gracefulDelete(obj, opts) {
		return false, false, nil
	}
	setDeletion(obj, time.Now().Add(time.Duration(*opts.GracePeriodSeconds)*time.Second), *opts.GracePeriodSeconds)
	return true, false, nil
}

func setDeletion(obj Object, deadline time.Time, period int64) {
	ts := metav1.NewTime(deadline.Truncate(time.Second))
	obj.SetDeletionTimestamp(&ts)
	obj.SetDeletionGracePeriodSeconds(&period)
}

// markAsDeleting marks an object without graceful deletion that waits for
// its finalizers.
func markAsDeleting(obj Object) {
	now := time.Now()
	if ts := obj.GetDeletionTimestamp(); ts == nil || ts.After(now) {
		setDeletion(obj, now, 0)
		return
	}
	zero := int64(0)
	obj.SetDeletionGracePeriodSeconds(&zero)
}

// checkPreconditions compares the UID and resource version a client
// required with obj's.
func checkPreconditions(res *Resource, obj Object, p *metav1.Preconditions) error {
	if p == nil {
		return nil
	}
	gr := schema.GroupResource{Group: res.gr.Group, Resource: res.kind}
	if p.UID != nil && *p.UID != obj.GetUID() {
		return apierrors.NewConflict(gr, obj.GetName(), fmt.Errorf("the UID in the precondition (%s) does not match the UID in record (%s). The object might have been deleted and then recreated", *p.UID, obj.GetUID()))
	}
	if p.ResourceVersion != nil && *p.ResourceVersion != obj.GetResourceVersion() {
		return apierrors.NewConflict(gr, obj.GetName(), fmt.Errorf("the ResourceVersion in the precondition (%s) does not match the ResourceVersion in record (%s). The object might have been modified", *p.ResourceVersion, obj.GetResourceVersion()))
	}
	return nil
}

// shouldDeleteDuringUpdate reports an update that takes the last finalizer
// off an object whose deletion waits only for it.
func shouldDeleteDuringUpdate(obj, old Object) bool {
	if len(obj.GetFinalizers()) > 0 || old.GetDeletionTimestamp() == nil {
		return false
	}
	p := old.GetDeletionGracePeriodSeconds()
	return p == nil || *p == 0
}
