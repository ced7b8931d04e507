package registry

import (
	"errors"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/apiserver/pkg/storage/names"
)

// Create and update as the generic registry store does them
// (k8s.io/apiserver/pkg/registry/rest/create.go BeforeCreate, update.go
// BeforeUpdate, generic/registry/store.go), after the request handler has
// decoded and defaulted the object.

// generateNameAttempts is how often a create with generateName tries a new
// name after a collision (the RetryGenerateName behaviour).
const generateNameAttempts = 8

// createObject stores a new object of res in namespace ns.
func (s *Store) Create(res *Resource, ns string, obj Object) (Object, error) {
	if res.namespaced {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(ns)
		} else if obj.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
		if err := s.admitNamespaced(res, ns, obj.GetName()); err != nil {
			return nil, err
		}
	} else {
		obj.SetNamespace("")
	}
	obj.SetDeletionTimestamp(nil)
	obj.SetDeletionGracePeriodSeconds(nil)
	res.strategy.prepareForCreate(obj)
	if obj.GetResourceVersion() != "" {
		return nil, fmt.Errorf("resourceVersion should not be set on objects to be created")
	}
	obj.SetCreationTimestamp(metav1.NewTime(time.Now().Truncate(time.Second)))
	obj.SetUID(uuid.NewUUID())
	generated := obj.GetName() == "" && obj.GetGenerateName() != ""
	for attempt := 1; ; attempt++ {
		if generated {
			obj.SetName(names.SimpleNameGenerator.GenerateName(obj.GetGenerateName()))
		}
		if errs := res.strategy.validate(obj); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.gvk().GroupKind(), obj.GetName(), errs)
		}
		created, err := s.insert(res, obj)
		if generated && apierrors.IsAlreadyExists(err) && attempt < generateNameAttempts {
			continue
		}
		return created, err
	}
}

// updateObject replaces ns/name of res, or its status when st is the status
// strategy, with what next makes of the current object: the request body
// for an update, the patched object for a patch. A resource version in the
// new object must be the current one (optimistic concurrency); none means
// an unconditional update.
func (s *Store) Update(res *Resource, st strategy, ns, name string, next func(cur Object) (Object, error)) (Object, error) {
	obj, _, err := s.GuaranteedUpdate(res, ns, name, func(cur Object) (Object, error) {
		obj, err := next(cur.DeepCopyObject().(Object))
		if err != nil {
			return nil, err
		}
		if res.namespaced && obj.GetNamespace() == "" {
			obj.SetNamespace(ns)
		}
		if obj.GetName() != name {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", obj.GetName(), name))
		}
		if res.namespaced && obj.GetNamespace() != ns {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("the namespace of the object (%s) does not match the namespace on the URL (%s)", obj.GetNamespace(), ns))
		}
		switch rv := obj.GetResourceVersion(); rv {
		case "":
			// Every resource here allows unconditional updates.
			obj.SetResourceVersion(cur.GetResourceVersion())
		case cur.GetResourceVersion():
		default:
			return nil, apierrors.NewConflict(res.gr, name, errors.New(optimisticLockErrorMsg))
		}
		beforeUpdate(st, obj, cur)
		if errs := st.validateUpdate(obj, cur); len(errs) > 0 {
			return nil, apierrors.NewInvalid(res.gvk().GroupKind(), name, errs)
		}
		if shouldDeleteDuringUpdate(obj, cur) {
			return nil, errDeleteNow
		}
		return obj, nil
	})
	return obj, err
}

// optimisticLockErrorMsg is the conflict message of a stale update.
const optimisticLockErrorMsg = "the object has been modified; please apply your changes to the latest version and try again"

// beforeUpdate carries over what no update may change: the strategy's
// fields, the UID, creation and deletion metadata and the generation.
func beforeUpdate(st strategy, obj, old Object) {
	obj.SetGeneration(old.GetGeneration())
	st.prepareForUpdate(obj, old)
	if obj.GetUID() == "" {
		obj.SetUID(old.GetUID())
	}
	obj.SetCreationTimestamp(old.GetCreationTimestamp())
	if ts := old.GetDeletionTimestamp(); ts != nil {
		obj.SetDeletionTimestamp(ts)
	}
	if p := old.GetDeletionGracePeriodSeconds(); p != nil && obj.GetDeletionGracePeriodSeconds() == nil {
		obj.SetDeletionGracePeriodSeconds(p)
	}
}
