package registry

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespaces, after pkg/registry/core/namespace (strategy.go,
// storage/storage.go) and the NamespaceLifecycle admission plugin
// (k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle). Admission
// lives here, not in a chain of plugins: Create is the one place that
// needs it. The namespace controller, which empties and removes a
// terminating namespace, is the apiserver's (controllers.go).

// systemNamespaces exist from the start.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// immortalNamespaces may not be deleted (NamespaceLifecycle's default).
var immortalNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic}

func newNamespaceResource() *Resource {
	return &Resource{
		gr:         corev1.Resource("namespaces"),
		gv:         corev1.SchemeGroupVersion,
		kind:       "Namespace",
		singular:   "namespace",
		shortNames: []string{"ns"},
		verbs:      []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		newObject:  func() Object { return &corev1.Namespace{} },
		newList: func(items []Object) runtime.Object {
			return &corev1.NamespaceList{Items: itemsOf[corev1.Namespace](items)}
		},
		defaults: defaultNamespace,
		strategy: namespaceStrategy{},
		status:   namespaceStatusStrategy{},
		fields: func(obj Object) fields.Set {
			set := objectMetaFields(obj, false)
			set["status.phase"] = string(obj.(*corev1.Namespace).Status.Phase)
			return set
		},
		table: namespaceTable,
	}
}

// defaultNamespace is SetDefaults_Namespace and SetDefaults_NamespaceStatus.
func defaultNamespace(obj Object) {
	ns := obj.(*corev1.Namespace)
	if ns.Name != "" {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[corev1.LabelMetadataName] = ns.Name
	}
	if ns.Status.Phase == "" {
		ns.Status.Phase = corev1.NamespaceActive
	}
}

type namespaceStrategy struct{}

// prepareForCreate makes the namespace Active and gives it the kubernetes
// finalizer, which the namespace controller removes once it is empty.
func (namespaceStrategy) prepareForCreate(obj Object) {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

func (namespaceStrategy) validate(obj Object) field.ErrorList {
	ns := obj.(*corev1.Namespace)
	return apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.NameIsDNSLabel, field.NewPath("metadata"))
}

func (namespaceStrategy) prepareForUpdate(obj, old Object) {
	ns, prev := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Spec.Finalizers = prev.Spec.Finalizers
	ns.Status = prev.Status
	defaultNamespace(ns)
}

func (namespaceStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return validateMetaUpdate(obj, old)
}

type namespaceStatusStrategy struct{ namespaceStrategy }

func (namespaceStatusStrategy) prepareForUpdate(obj, old Object) {
	obj.(*corev1.Namespace).Spec = old.(*corev1.Namespace).Spec
}

// ensureSystemNamespaces creates the namespaces every cluster has.
func (s *Store) ensureSystemNamespaces() error {
	for _, name := range systemNamespaces {
		if _, err := s.Get(Namespaces, "", name); err == nil {
			continue
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		defaultNamespace(ns)
		if _, err := s.Create(Namespaces, "", ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

// admitNamespaced is NamespaceLifecycle for creates: the namespace must
// exist and not be terminating.
func (s *Store) admitNamespaced(res *Resource, ns, name string) error {
	obj, err := s.Get(Namespaces, "", ns)
	if err != nil {
		return apierrors.NewNotFound(Namespaces.gr, ns)
	}
	if obj.(*corev1.Namespace).Status.Phase != corev1.NamespaceTerminating {
		return nil
	}
	forbidden := apierrors.NewForbidden(res.gr, name, fmt.Errorf("unable to create new content in namespace %s because it is being terminated", ns))
	forbidden.ErrStatus.Details.Causes = append(forbidden.ErrStatus.Details.Causes, metav1.StatusCause{
		Type:    corev1.NamespaceTerminatingCause,
		Message: fmt.Sprintf("namespace %s is being terminated", ns),
		Field:   "metadata.namespace",
	})
	return forbidden
}

// deleteNamespace starts a namespace's termination: it turns Terminating
// with a deletion timestamp and the namespace controller, woken even when
// nothing changed, takes it from there. The system namespaces may not be
// deleted.
func (s *Store) deleteNamespace(name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	for _, sys := range immortalNamespaces {
		if name == sys {
			return nil, false, apierrors.NewForbidden(Namespaces.gr, name, fmt.Errorf("this namespace may not be deleted"))
		}
	}
	obj, _, err := s.GuaranteedUpdate(Namespaces, "", name, func(cur Object) (Object, error) {
		if err := checkPreconditions(Namespaces, cur, opts.Preconditions); err != nil {
			return nil, err
		}
		ns := cur.(*corev1.Namespace)
		if ns.DeletionTimestamp == nil {
			now := metav1.NewTime(time.Now().Truncate(time.Second))
			ns.DeletionTimestamp = &now
		}
		ns.Status.Phase = corev1.NamespaceTerminating
		return ns, nil
	})
	if err != nil {
		return nil, false, err
	}
	s.notify()
	return obj, false, nil
}
