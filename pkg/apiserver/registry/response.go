package registry

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversionscheme "k8s.io/apimachinery/pkg/apis/meta/internalversion/scheme"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1beta1 "k8s.io/apimachinery/pkg/apis/meta/v1beta1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilnet "k8s.io/apimachinery/pkg/util/net"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
)

// WriteError answers err as a Status with its code, in the media type the
// client accepts (JSON whatever it asked for, since that is all there is).
// A status that asks to retry later says when in Retry-After too, as
// responsewriters.ErrorNegotiated does.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status := responsewriters.ErrorToAPIStatus(err)
	if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(status.Details.RetryAfterSeconds)))
	}
	serializer, err := negotiateSerializer(r)
	if err != nil {
		serializer = Codecs.jsonInfo().Serializer
	}
	writeEncoded(w, int(status.Code), status, serializer, corev1.SchemeGroupVersion)
}

// WriteNegotiated answers obj, as gv, in the media type the client
// accepts, or 406.
func WriteNegotiated(w http.ResponseWriter, r *http.Request, code int, obj runtime.Object, gv schema.GroupVersion) {
	serializer, err := negotiateSerializer(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeEncoded(w, code, obj, serializer, gv)
}

// negotiateSerializer picks the serializer of r's Accept header, for
// answers that are never Tables or metadata.
func negotiateSerializer(r *http.Request) (runtime.Serializer, error) {
	_, info, err := negotiation.NegotiateOutputMediaType(r, Codecs, restrictions{})
	return info.Serializer, err
}

// MethodNotAllowed answers a method a resource path does not serve.
func MethodNotAllowed(w http.ResponseWriter, r *http.Request, gr schema.GroupResource) {
	WriteError(w, r, apierrors.NewMethodNotSupported(gr, r.Method))
}

// ErrNotFoundPath is the answer for a path this server does not serve.
func ErrNotFoundPath() error {
	return pathError(http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
}

// ErrMethodNotAllowedPath is the answer for a method a non-resource path
// does not serve.
func ErrMethodNotAllowedPath() error {
	return pathError(http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed, "the server does not allow this method on the requested resource")
}

// pathError is an error about a path rather than a resource: its Status
// has empty details, as kube-apiserver answers for an unknown path.
func pathError(code int32, reason metav1.StatusReason, message string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    code,
		Reason:  reason,
		Details: &metav1.StatusDetails{},
		Message: message,
	}}
}

// WriteJSON encodes obj as gv with the plain JSON serializer, whatever the
// client accepts.
func WriteJSON(w http.ResponseWriter, code int, obj runtime.Object, gv schema.GroupVersion) {
	writeEncoded(w, code, obj, Codecs.jsonInfo().Serializer, gv)
}

func writeEncoded(w http.ResponseWriter, code int, obj runtime.Object, s runtime.Serializer, gv schema.GroupVersion) {
	var buf bytes.Buffer
	if err := encoderFor(s, gv).Encode(obj, &buf); err != nil {
		http.Error(w, fmt.Sprintf("encode %T: %v", obj, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", runtime.ContentTypeJSON)
	w.WriteHeader(code)
	w.Write(buf.Bytes())
}

// addWarning adds a Warning response header as the apiserver's warning
// recorder does (299 - "text").
func addWarning(w http.ResponseWriter, text string) {
	if h, err := utilnet.NewWarningHeader(299, "-", text); err == nil {
		w.Header().Add("Warning", h)
	}
}

// output is the negotiated answer format for one request.
type output struct {
	info runtime.SerializerInfo
	// convert is set when the client asked for a Table or
	// PartialObjectMetadata(List) instead of the object itself.
	convert *schema.GroupVersionKind
}

// restrictions says what this server can transform objects into, as
// handlers.RequestScope.AllowsMediaTypeTransform does upstream.
type restrictions struct {
	table bool
}

func (e restrictions) AllowsMediaTypeTransform(mimeType, mimeSubType string, gvk *schema.GroupVersionKind) bool {
	if gvk == nil {
		return true
	}
	if gvk.GroupVersion() != metav1.SchemeGroupVersion && gvk.GroupVersion() != metav1beta1.SchemeGroupVersion {
		return false
	}
	switch gvk.Kind {
	case "Table":
		return e.table && mimeType == "application" && mimeSubType == "json"
	case "PartialObjectMetadata", "PartialObjectMetadataList":
		return true
	}
	return false
}

func (restrictions) AllowsServerVersion(version string) bool { return version == "v1" }

func (restrictions) AllowsStreamSchema(s string) bool { return s == "watch" }

// negotiateOutput picks the serializer and transform for r's Accept header;
// a client that accepts nothing this server writes gets a 406 error.
func negotiateOutput(r *http.Request, res *Resource) (output, error) {
	mediaType, info, err := negotiation.NegotiateOutputMediaType(r, Codecs, restrictions{table: res != nil && res.table != nil})
	if err != nil {
		return output{}, err
	}
	return output{info: info, convert: mediaType.Convert}, nil
}

// writeObject answers obj (an object or a list of res) with code in the
// negotiated format, turning it into a Table or metadata on request.
func writeObject(w http.ResponseWriter, r *http.Request, res *Resource, code int, obj runtime.Object) {
	out, err := negotiateOutput(r, res)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	result, gv, err := transform(r, res, out.convert, obj, false)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeEncoded(w, code, result, out.info.Serializer, gv)
}

// transform turns obj into what the client asked for: itself, a Table, or
// PartialObjectMetadata(List), and says which group version to encode it
// as (handlers/response.go doTransformObject upstream). noHeaders leaves the
// column definitions out, for watch events after the first.
func transform(r *http.Request, res *Resource, convert *schema.GroupVersionKind, obj runtime.Object, noHeaders bool) (runtime.Object, schema.GroupVersion, error) {
	if _, ok := obj.(*metav1.Status); ok {
		return obj, corev1.SchemeGroupVersion, nil
	}
	if convert == nil {
		return obj, res.gv, nil
	}
	gv := convert.GroupVersion()
	items, rv, isList, err := listItems(obj)
	if err != nil {
		return nil, gv, apierrors.NewInternalError(err)
	}
	switch convert.Kind {
	case "PartialObjectMetadata":
		if isList {
			return nil, gv, notAcceptable(fmt.Sprintf("you requested PartialObjectMetadata, but the requested object is a list (%T)", obj))
		}
		return partialObjectMetadata(items[0], gv), gv, nil
	case "PartialObjectMetadataList":
		if !isList {
			return nil, gv, notAcceptable(fmt.Sprintf("you requested PartialObjectMetadataList, but the requested object is not a list (%T)", obj))
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gv.WithKind("PartialObjectMetadataList"))
		list.ResourceVersion = rv
		for _, item := range items {
			list.Items = append(list.Items, *partialObjectMetadata(item, gv))
		}
		return list, gv, nil
	case "Table":
		opts := &metav1.TableOptions{}
		if err := metainternalversionscheme.ParameterCodec.DecodeParameters(r.URL.Query(), metav1.SchemeGroupVersion, opts); err != nil {
			return nil, gv, apierrors.NewBadRequest(err.Error())
		}
		table, err := res.table.toTable(items, rv, noHeaders, opts.IncludeObject, gv)
		if err != nil {
			return nil, gv, err
		}
		return table, gv, nil
	}
	return nil, gv, negotiation.NewNotAcceptableError([]string{runtime.ContentTypeJSON})
}

// notAcceptable is a 406 with a message of its own.
func notAcceptable(msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusNotAcceptable,
		Reason:  metav1.StatusReasonNotAcceptable,
		Message: msg,
	}}
}

// listItems returns the items of a list, or obj alone, with the resource
// version of the list or object.
func listItems(obj runtime.Object) ([]Object, string, bool, error) {
	if !meta.IsListType(obj) {
		o, ok := obj.(Object)
		if !ok {
			return nil, "", false, fmt.Errorf("%T has no object metadata", obj)
		}
		return []Object{o}, o.GetResourceVersion(), false, nil
	}
	list, err := meta.ListAccessor(obj)
	if err != nil {
		return nil, "", true, err
	}
	raw, err := meta.ExtractList(obj)
	if err != nil {
		return nil, "", true, err
	}
	items := make([]Object, len(raw))
	for i, item := range raw {
		o, ok := item.(Object)
		if !ok {
			return nil, "", true, fmt.Errorf("%T has no object metadata", item)
		}
		items[i] = o
	}
	return items, list.GetResourceVersion(), true, nil
}

// partialObjectMetadata is obj's metadata alone, of kind
// PartialObjectMetadata in gv.
func partialObjectMetadata(obj Object, gv schema.GroupVersion) *metav1.PartialObjectMetadata {
	partial := meta.AsPartialObjectMetadata(obj)
	partial.SetGroupVersionKind(gv.WithKind("PartialObjectMetadata"))
	return partial
}
