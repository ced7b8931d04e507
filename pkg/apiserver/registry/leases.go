package registry

import (
	coordinationv1 "k8s.io/api/coordination/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Leases (coordination.k8s.io/v1), after pkg/registry/coordination/lease:
// each kubelet renews one named for its node in kube-node-lease, its
// heartbeat. A Lease owned by a node goes with the node (controllers.go).

func newLeaseResource() *Resource {
	return &Resource{
		gr:         coordinationv1.Resource("leases"),
		gv:         coordinationv1.SchemeGroupVersion,
		kind:       "Lease",
		singular:   "lease",
		namespaced: true,
		verbs:      []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		newObject:  func() Object { return &coordinationv1.Lease{} },
		newList: func(items []Object) runtime.Object {
			return &coordinationv1.LeaseList{Items: itemsOf[coordinationv1.Lease](items)}
		},
		defaults: func(Object) {},
		strategy: leaseStrategy{},
		fields:   func(obj Object) fields.Set { return objectMetaFields(obj, true) },
		table:    leaseTable,
	}
}

type leaseStrategy struct{}

func (leaseStrategy) prepareForCreate(Object) {}

// validate is ValidateLease (pkg/apis/coordination/validation).
func (leaseStrategy) validate(obj Object) field.ErrorList {
	l := obj.(*coordinationv1.Lease)
	errs := apivalidation.ValidateObjectMeta(&l.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, validateLeaseSpec(&l.Spec, field.NewPath("spec"))...)
}

func validateLeaseSpec(spec *coordinationv1.LeaseSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if d := spec.LeaseDurationSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(path.Child("leaseDurationSeconds"), *d, "must be greater than 0"))
	}
	if t := spec.LeaseTransitions; t != nil && *t < 0 {
		errs = append(errs, field.Invalid(path.Child("leaseTransitions"), *t, "must be greater than or equal to 0"))
	}
	if s := spec.Strategy; s != nil && *s != coordinationv1.OldestEmulationVersion {
		errs = append(errs, field.NotSupported(path.Child("strategy"), *s, []string{string(coordinationv1.OldestEmulationVersion)}))
	}
	if h := spec.PreferredHolder; h != nil && *h != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		errs = append(errs, field.Forbidden(path.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return errs
}

func (leaseStrategy) prepareForUpdate(Object, Object) {}

func (leaseStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return append(validateMetaUpdate(obj, old), validateLeaseSpec(&obj.(*coordinationv1.Lease).Spec, field.NewPath("spec"))...)
}

// leaseTable is printLease's.
var leaseTable = &tableConvertor{
	columns: []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Holder", Type: "string", Description: coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]},
		ageColumn,
	},
	row: func(obj Object) metav1.TableRow {
		l := obj.(*coordinationv1.Lease)
		holder := ""
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		return metav1.TableRow{Cells: []any{l.Name, holder, translateTimestampSince(l.CreationTimestamp)}}
	},
}
