package apiserver

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

// Namespaces, after pkg/registry/core/namespace (strategy.go, storage.go),
// the NamespaceLifecycle admission plugin and, much reduced, the namespace
// controller.

// systemNamespaces exist from the start.
var systemNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic, corev1.NamespaceNodeLease}

// immortalNamespaces may not be deleted (NamespaceLifecycle's default).
var immortalNamespaces = []string{metav1.NamespaceDefault, metav1.NamespaceSystem, metav1.NamespacePublic}

func newNamespaceResource() *resource {
	return &resource{
		gr:         corev1.Resource("namespaces"),
		kind:       "Namespace",
		singular:   "namespace",
		shortNames: []string{"ns"},
		verbs:      []string{"create", "delete", "get", "list", "patch", "update", "watch"},
		newObject:  func() object { return &corev1.Namespace{} },
		newList: func(items []object) runtime.Object {
			list := &corev1.NamespaceList{Items: make([]corev1.Namespace, len(items))}
			for i, item := range items {
				list.Items[i] = *item.(*corev1.Namespace)
			}
			return list
		},
		defaults: defaultNamespace,
		strategy: namespaceStrategy{},
		status:   namespaceStatusStrategy{},
		fields: func(obj object) fields.Set {
			set := objectMetaFields(obj, false)
			set["status.phase"] = string(obj.(*corev1.Namespace).Status.Phase)
			return set
		},
		table: namespaceTable,
	}
}

// defaultNamespace is SetDefaults_Namespace and SetDefaults_NamespaceStatus.
func defaultNamespace(obj object) {
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
func (namespaceStrategy) prepareForCreate(obj object) {
	ns := obj.(*corev1.Namespace)
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			return
		}
	}
	ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}

func (namespaceStrategy) validate(obj object) field.ErrorList {
	ns := obj.(*corev1.Namespace)
	return apivalidation.ValidateObjectMeta(&ns.ObjectMeta, false, apivalidation.NameIsDNSLabel, field.NewPath("metadata"))
}

func (namespaceStrategy) prepareForUpdate(obj, old object) {
	ns, prev := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	ns.Spec.Finalizers = prev.Spec.Finalizers
	ns.Status = prev.Status
	defaultNamespace(ns)
}

func (namespaceStrategy) validateUpdate(obj, old object) field.ErrorList {
	ns, prev := obj.(*corev1.Namespace), old.(*corev1.Namespace)
	return apivalidation.ValidateObjectMetaUpdate(&ns.ObjectMeta, &prev.ObjectMeta, field.NewPath("metadata"))
}

type namespaceStatusStrategy struct{ namespaceStrategy }

func (namespaceStatusStrategy) prepareForUpdate(obj, old object) {
	obj.(*corev1.Namespace).Spec = old.(*corev1.Namespace).Spec
}

// ensureSystemNamespaces creates the namespaces every cluster has.
func (s *Server) ensureSystemNamespaces() error {
	for _, name := range systemNamespaces {
		if _, err := s.store.get(s.namespaces, "", name); err == nil {
			continue
		}
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		defaultNamespace(ns)
		if _, err := s.createObject(s.namespaces, "", ns); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create namespace %s: %w", name, err)
		}
	}
	return nil
}

// admitNamespaced is NamespaceLifecycle for creates: the namespace must
// exist and not be terminating.
func (s *Server) admitNamespaced(res *resource, ns, name string) error {
	obj, err := s.store.get(s.namespaces, "", ns)
	if err != nil {
		return apierrors.NewNotFound(s.namespaces.gr, ns)
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
// with a deletion timestamp and the namespace controller takes it from
// there. The system namespaces may not be deleted.
func (s *Server) deleteNamespace(name string, opts *metav1.DeleteOptions) (runtime.Object, bool, error) {
	for _, sys := range immortalNamespaces {
		if name == sys {
			return nil, false, apierrors.NewForbidden(s.namespaces.gr, name, fmt.Errorf("this namespace may not be deleted"))
		}
	}
	obj, _, err := s.store.update(s.namespaces, "", name, func(cur object) (object, error) {
		if err := checkPreconditions(s.namespaces, cur, opts.Preconditions); err != nil {
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
	s.kickControllers()
	return obj, false, nil
}

// finalizeNamespaces is the namespace controller: it deletes the pods of
// terminating namespaces, as DELETE with default options would, and
// removes a namespace once nothing is left in it.
func (s *Server) finalizeNamespaces() {
	terminating, _ := s.store.list(s.namespaces, "", func(o object) bool { return o.GetDeletionTimestamp() != nil })
	for _, ns := range terminating {
		pods, _ := s.store.list(s.pods, ns.GetName(), nil)
		for _, pod := range pods {
			if pod.GetDeletionTimestamp() == nil {
				if _, _, err := s.deleteObject(s.pods, pod.GetNamespace(), pod.GetName(), &metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
					s.log.Warn("delete pod of terminating namespace", "namespace", ns.GetName(), "pod", pod.GetName(), "err", err)
				}
			}
		}
		if len(pods) > 0 {
			continue
		}
		if _, err := s.store.remove(s.namespaces, "", ns.GetName(), nil); err != nil && !apierrors.IsNotFound(err) {
			s.log.Warn("remove terminated namespace", "namespace", ns.GetName(), "err", err)
		}
	}
}
