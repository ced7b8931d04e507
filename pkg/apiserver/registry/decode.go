package registry

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

// What a write brings, read in the order of upstream's create, update and
// patch handlers (k8s.io/apiserver/pkg/endpoints/handlers/create.go
// createHandler and friends): the options from the query, validated; a dry
// run refused; the body, bounded; the object decoded and defaulted.

// maxRequestBodyBytes is kube-apiserver's default request size limit.
const maxRequestBodyBytes = 3 * 1024 * 1024

// ReadBody reads a request body of at most maxRequestBodyBytes.
func ReadBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	if len(body) > maxRequestBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxRequestBodyBytes))
	}
	return body, nil
}

// readWrite decodes the query into opts (*metav1.CreateOptions,
// UpdateOptions or PatchOptions), checks it with validate when there is
// one, refuses a dry run and reads the body. It returns the body and the
// field validation directive asked for.
func readWrite(r *http.Request, opts runtime.Object, validate func() error) ([]byte, string, error) {
	if err := decodeMetaOptions(r.URL.Query(), opts); err != nil {
		return nil, "", err
	}
	if validate != nil {
		if err := validate(); err != nil {
			return nil, "", err
		}
	}
	var dryRun []string
	var directive string
	switch o := opts.(type) {
	case *metav1.CreateOptions:
		dryRun, directive = o.DryRun, o.FieldValidation
	case *metav1.UpdateOptions:
		dryRun, directive = o.DryRun, o.FieldValidation
	case *metav1.PatchOptions:
		dryRun, directive = o.DryRun, o.FieldValidation
	}
	if len(dryRun) > 0 {
		return nil, "", ErrDryRun
	}
	body, err := ReadBody(r)
	return body, fieldValidation(directive), err
}

// readObject is readWrite and the body decoded as an object of res, with
// the warnings of the field validation.
func readObject(r *http.Request, res *Resource, opts runtime.Object, validate func() error) (Object, []string, error) {
	body, directive, err := readWrite(r, opts, validate)
	if err != nil {
		return nil, nil, err
	}
	return decodeObject(body, r.Header.Get("Content-Type"), res, directive)
}

// decodeObject decodes body as an object of res, strictly when the field
// validation directive asks for it: Strict rejects unknown and duplicate
// fields, Warn returns them as warnings, Ignore drops them. The defaults
// are applied, as by the defaulting decoder upstream.
func decodeObject(body []byte, contentType string, res *Resource, directive string) (Object, []string, error) {
	info, err := negotiation.NegotiateInputSerializerForMediaType(contentType, false, InputCodecs)
	if err != nil {
		return nil, nil, err
	}
	serializer := info.Serializer
	if directive != metav1.FieldValidationIgnore {
		serializer = info.StrictSerializer
	}
	defaultGVK := res.gvk()
	into := res.newObject()
	decoded, gvk, err := Codecs.DecoderToVersion(serializer, res.gv).Decode(body, &defaultGVK, into)
	var warnings []string
	if strict, ok := runtime.AsStrictDecodingError(err); ok && decoded != nil && directive != metav1.FieldValidationStrict {
		if directive == metav1.FieldValidationWarn {
			for _, e := range strict.Errors() {
				warnings = append(warnings, e.Error())
			}
		}
		err = nil
	}
	if err != nil {
		if gvk != nil && gvk.Kind != "" {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, res.kind, err))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v", res.kind, err))
	}
	if gv := gvk.GroupVersion(); gv != res.gv {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%v)", gv, res.gv))
	}
	obj, ok := decoded.(Object)
	if !ok {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s", gvk.Kind, gvk.Version, res.kind))
	}
	res.defaults(obj)
	return obj, warnings, nil
}

// bindings decodes the Binding a scheduler posts; it is never stored.
var bindings = &Resource{gv: corev1.SchemeGroupVersion, kind: "Binding", newObject: func() Object { return &corev1.Binding{} }, defaults: func(Object) {}}

// ReadBinding reads the Binding of a pods/binding or bindings create. Its
// CreateOptions are decoded but not validated, and its unknown fields are
// dropped whatever fieldValidation says: a scheduler's Binding is not an
// object the server keeps.
func ReadBinding(r *http.Request) (*corev1.Binding, error) {
	body, _, err := readWrite(r, &metav1.CreateOptions{}, nil)
	if err != nil {
		return nil, err
	}
	obj, _, err := decodeObject(body, r.Header.Get("Content-Type"), bindings, metav1.FieldValidationIgnore)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Binding), nil
}

// deleteOptions reads DeleteOptions from the body, or else the query, and
// refuses a dry run.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := ReadBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		err = decodeMetaOptions(r.URL.Query(), opts)
	} else {
		err = decodeDeleteOptions(r, body, opts)
	}
	if err != nil {
		return nil, err
	}
	if len(opts.DryRun) > 0 {
		return nil, ErrDryRun
	}
	return opts, nil
}

// decodeDeleteOptions decodes a DeleteOptions body.
func decodeDeleteOptions(r *http.Request, body []byte, opts *metav1.DeleteOptions) error {
	info, err := negotiation.NegotiateInputSerializer(r, false, InputCodecs)
	if err != nil {
		return err
	}
	defaultGVK := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
	if _, _, err := InputCodecs.DecoderToVersion(info.Serializer, metav1.SchemeGroupVersion).Decode(body, &defaultGVK, opts); err != nil {
		return apierrors.NewBadRequest(err.Error())
	}
	return nil
}

func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, text := range warnings {
		addWarning(w, text)
	}
}
