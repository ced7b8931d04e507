package registry

import (
	"slices"

	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Object is what the store holds: a typed object with metadata.
type Object interface {
	metav1.Object
	runtime.Object
}

// strategy is the per-kind create and update logic, after upstream's
// rest.RESTCreateStrategy and rest.RESTUpdateStrategy.
type strategy interface {
	// prepareForCreate clears or sets what users may not choose.
	prepareForCreate(obj Object)
	validate(obj Object) field.ErrorList
	// prepareForUpdate carries over from old what this endpoint may not change.
	prepareForUpdate(obj, old Object)
	validateUpdate(obj, old Object) field.ErrorList
}

// The resources this server serves: core/v1's, and the nodes' Leases.
var (
	Pods       = newPodResource()
	Nodes      = newNodeResource()
	Namespaces = newNamespaceResource()
	Events     = newEventResource()
	Leases     = newLeaseResource()
	// Resources are all of them, in the order the snapshot file lists them.
	Resources = []*Resource{Namespaces, Nodes, Pods, Events, Leases}
)

// Lookup returns the resource of that group version and plural name, or nil.
func Lookup(gv schema.GroupVersion, name string) *Resource {
	for _, r := range Resources {
		if r.gv == gv && r.gr.Resource == name {
			return r
		}
	}
	return nil
}

// Resource describes one served resource: its names for discovery, how its
// objects are defaulted, validated and selected, and how they print
// (rest.Storage and its strategies upstream, pkg/registry/core/*/strategy.go).
type Resource struct {
	gr schema.GroupResource
	// gv is the one version served, the version stored.
	gv         schema.GroupVersion
	kind       string
	singular   string
	namespaced bool
	shortNames []string
	categories []string
	verbs      []string

	newObject func() Object
	newList   func(items []Object) runtime.Object
	// defaults applies the scheme defaults, as the defaulting decoder does
	// after every decode upstream (pkg/apis/core/v1/defaults.go).
	defaults func(Object)
	strategy strategy
	// status is the strategy of the status subresource; nil if none.
	status strategy
	// fields are the field selector values of an object.
	fields func(Object) fields.Set
	table  *tableConvertor
	// returnDeleted answers a DELETE with the deleted object rather than
	// a Success Status (pods do, upstream's ReturnDeletedObject).
	returnDeleted bool
	// gracefulDelete, when set, decides whether a delete only marks the
	// object (deletionTimestamp) and fills in the grace period.
	gracefulDelete func(obj Object, opts *metav1.DeleteOptions) bool
}

func (r *Resource) gvk() schema.GroupVersionKind { return r.gv.WithKind(r.kind) }

// Namespaced reports whether the resource's objects live in namespaces.
func (r *Resource) Namespaced() bool { return r.namespaced }

func (r *Resource) hasVerb(verb string) bool { return slices.Contains(r.verbs, verb) }

// key is the store key of ns/name within the resource.
func (r *Resource) key(ns, name string) string {
	if !r.namespaced {
		return name
	}
	return ns + "/" + name
}

// validateMetaUpdate is the update validation of a kind whose spec any
// update may change: the metadata's alone (ValidateObjectMetaUpdate).
func validateMetaUpdate(obj, old Object) field.ErrorList {
	return apivalidation.ValidateObjectMetaAccessorUpdate(obj, old, field.NewPath("metadata"))
}

// itemsOf is the Items of a typed list of objs, which are all *T.
func itemsOf[T any](objs []Object) []T {
	items := make([]T, len(objs))
	for i, obj := range objs {
		items[i] = *any(obj).(*T)
	}
	return items
}

// predicate is a parsed label and field selector.
type predicate struct {
	label labels.Selector
	field fields.Selector
}

func (p predicate) matches(res *Resource, obj Object) bool {
	if p.label != nil && !p.label.Empty() && !p.label.Matches(labels.Set(obj.GetLabels())) {
		return false
	}
	if p.field != nil && !p.field.Empty() && !p.field.Matches(res.fields(obj)) {
		return false
	}
	return true
}

// objectMetaFields are the field selector values every object has
// (generic.ObjectMetaFieldsSet upstream).
func objectMetaFields(obj Object, namespaced bool) fields.Set {
	set := fields.Set{"metadata.name": obj.GetName()}
	if namespaced {
		set["metadata.namespace"] = obj.GetNamespace()
	}
	return set
}
