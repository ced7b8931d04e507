package registry

import (
	"cmp"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Events (core/v1), after pkg/registry/core/event/strategy.go: what the
// kubelet and the scheduler report of a pod, which `kubectl describe pod`
// lists by the fields of its involvedObject. Upstream keeps them an hour
// (--event-ttl); here they go with their namespace.

func newEventResource() *Resource {
	return &Resource{
		gr:         corev1.Resource("events"),
		gv:         corev1.SchemeGroupVersion,
		kind:       "Event",
		singular:   "event",
		namespaced: true,
		shortNames: []string{"ev"},
		verbs:      []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
		newObject:  func() Object { return &corev1.Event{} },
		newList:    func(items []Object) runtime.Object { return &corev1.EventList{Items: itemsOf[corev1.Event](items)} },
		defaults:   func(Object) {},
		strategy:   eventStrategy{},
		fields:     eventFields,
		table:      eventTable,
	}
}

type eventStrategy struct{}

func (eventStrategy) prepareForCreate(Object) {}

// validate is the legacy API's ValidateEventCreate
// (pkg/apis/core/validation/events.go): the object's metadata, and an
// involved object in the event's own namespace.
func (eventStrategy) validate(obj Object) field.ErrorList {
	ev := obj.(*corev1.Event)
	errs := apivalidation.ValidateObjectMeta(&ev.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	involved := field.NewPath("involvedObject", "namespace")
	switch ns := ev.InvolvedObject.Namespace; {
	case ns == "" && ev.Namespace != metav1.NamespaceDefault && ev.Namespace != "":
		errs = append(errs, field.Invalid(involved, ns, "does not match event.namespace"))
	case ns != "" && ns != ev.Namespace:
		errs = append(errs, field.Invalid(involved, ns, "does not match event.namespace"))
	}
	return errs
}

func (eventStrategy) prepareForUpdate(Object, Object) {}

func (s eventStrategy) validateUpdate(obj, old Object) field.ErrorList {
	return append(validateMetaUpdate(obj, old), s.validate(obj)...)
}

// eventFields are upstream's ToSelectableFields of an event.
func eventFields(obj Object) fields.Set {
	ev := obj.(*corev1.Event)
	set := objectMetaFields(obj, true)
	for k, v := range map[string]string{
		"involvedObject.kind":            ev.InvolvedObject.Kind,
		"involvedObject.namespace":       ev.InvolvedObject.Namespace,
		"involvedObject.name":            ev.InvolvedObject.Name,
		"involvedObject.uid":             string(ev.InvolvedObject.UID),
		"involvedObject.apiVersion":      ev.InvolvedObject.APIVersion,
		"involvedObject.resourceVersion": ev.InvolvedObject.ResourceVersion,
		"involvedObject.fieldPath":       ev.InvolvedObject.FieldPath,
		"reason":                         ev.Reason,
		"reportingComponent":             ev.ReportingController,
		"source":                         ev.Source.Component,
		"type":                           ev.Type,
	} {
		set[k] = v
	}
	return set
}

// eventTable is printEvent's: the server fills the -o wide columns too.
var eventTable = &tableConvertor{
	columns: []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string", Description: corev1.Event{}.SwaggerDoc()["lastTimestamp"]},
		{Name: "Type", Type: "string", Description: corev1.Event{}.SwaggerDoc()["type"]},
		{Name: "Reason", Type: "string", Description: corev1.Event{}.SwaggerDoc()["reason"]},
		{Name: "Object", Type: "string", Description: corev1.Event{}.SwaggerDoc()["involvedObject"]},
		{Name: "Subobject", Type: "string", Priority: 1, Description: corev1.ObjectReference{}.SwaggerDoc()["fieldPath"]},
		{Name: "Source", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["source"]},
		{Name: "Message", Type: "string", Description: corev1.Event{}.SwaggerDoc()["message"]},
		{Name: "First Seen", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["firstTimestamp"]},
		{Name: "Count", Type: "string", Priority: 1, Description: corev1.Event{}.SwaggerDoc()["count"]},
		{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: metav1.ObjectMeta{}.SwaggerDoc()["name"]},
	},
	row: func(obj Object) metav1.TableRow { return printEvent(obj.(*corev1.Event)) },
}

func printEvent(ev *corev1.Event) metav1.TableRow {
	first := translateTimestampSince(ev.FirstTimestamp)
	if ev.FirstTimestamp.IsZero() {
		first = translateTimestampSince(metav1.Time(ev.EventTime))
	}
	last := translateTimestampSince(ev.LastTimestamp)
	if ev.LastTimestamp.IsZero() {
		last = first
	}
	count := ev.Count
	if ev.Series != nil {
		last = translateTimestampSince(metav1.Time(ev.Series.LastObservedTime))
		count = ev.Series.Count
	} else if count == 0 {
		count = 1 // a singleton of the new API has none
	}
	target := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		target = fmt.Sprintf("%s/%s", target, ev.InvolvedObject.Name)
	}
	source := cmp.Or(ev.Source.Component, ev.ReportingController)
	if instance := cmp.Or(ev.Source.Host, ev.ReportingInstance); instance != "" {
		source += ", " + instance
	}
	return metav1.TableRow{Cells: []any{last, ev.Type, ev.Reason, target, ev.InvolvedObject.FieldPath, source,
		strings.TrimSpace(ev.Message), first, int64(count), ev.Name}}
}
