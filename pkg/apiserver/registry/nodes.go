package registry

import (
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Nodes, after pkg/registry/core/node/strategy.go. A kubelet creates its
// Node with status, then writes status through nodes/status.

func newNodeResource() *Resource {
	return &Resource{
		gr:         corev1.Resource("nodes"),
		gv:         corev1.SchemeGroupVersion,
		kind:       "Node",
		singular:   "node",
		shortNames: []string{"no"},
		verbs:      []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		newObject:  func() Object { return &corev1.Node{} },
		newList:    func(items []Object) runtime.Object { return &corev1.NodeList{Items: itemsOf[corev1.Node](items)} },
		defaults:   defaultNode,
		strategy:   nodeStrategy{},
		status:     nodeStatusStrategy{},
		fields: func(obj Object) fields.Set {
			set := objectMetaFields(obj, false)
			set["spec.unschedulable"] = strconv.FormatBool(obj.(*corev1.Node).Spec.Unschedulable)
			return set
		},
		table: nodeTable,
	}
}

// defaultNode is SetDefaults_NodeStatus: allocatable defaults to capacity.
func defaultNode(obj Object) {
	status := &obj.(*corev1.Node).Status
	if status.Allocatable == nil && status.Capacity != nil {
		status.Allocatable = status.Capacity.DeepCopy()
	}
}

type nodeStrategy struct{}

func (nodeStrategy) prepareForCreate(Object) {}

func (nodeStrategy) validate(obj Object) field.ErrorList {
	node := obj.(*corev1.Node)
	return apivalidation.ValidateObjectMeta(&node.ObjectMeta, false, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
}

func (nodeStrategy) prepareForUpdate(obj, old Object) {
	obj.(*corev1.Node).Status = old.(*corev1.Node).Status
}

func (nodeStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return validateMetaUpdate(obj, old)
}

// nodeStatusStrategy is nodes/status: status only, the spec stays.
type nodeStatusStrategy struct{ nodeStrategy }

func (nodeStatusStrategy) prepareForUpdate(obj, old Object) {
	obj.(*corev1.Node).Spec = old.(*corev1.Node).Spec
}
