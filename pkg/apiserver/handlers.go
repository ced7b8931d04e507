package apiserver

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/endpoints/handlers/negotiation"
)

// The HTTP side of the generic verbs, after
// k8s.io/apiserver/pkg/endpoints/handlers (get.go, create.go, update.go,
// patch.go, delete.go): options from the query, the body decoded and
// defaulted, the answer negotiated.

// maxRequestBodyBytes is kube-apiserver's default request size limit.
const maxRequestBodyBytes = 3 * 1024 * 1024

func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBodyBytes+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("read request body: %v", err))
	}
	if len(body) > maxRequestBodyBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxRequestBodyBytes))
	}
	return body, nil
}

// decodeObject decodes body as an object of res, strictly when the field
// validation directive asks for it: Strict rejects unknown and duplicate
// fields, Warn returns them as warnings, Ignore drops them. The defaults
// are applied, as by the defaulting decoder upstream.
func decodeObject(body []byte, contentType string, res *resource, directive string) (object, []string, error) {
	info, err := negotiation.NegotiateInputSerializerForMediaType(contentType, false, inputCodecs)
	if err != nil {
		return nil, nil, err
	}
	serializer := info.Serializer
	if directive != metav1.FieldValidationIgnore {
		serializer = info.StrictSerializer
	}
	defaultGVK := res.gvk()
	into := res.newObject()
	decoded, gvk, err := codecs.DecoderToVersion(serializer, corev1.SchemeGroupVersion).Decode(body, &defaultGVK, into)
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
	if gv := gvk.GroupVersion(); gv != corev1.SchemeGroupVersion {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%v)", gv, corev1.SchemeGroupVersion))
	}
	obj, ok := decoded.(object)
	if !ok {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s", gvk.Kind, gvk.Version, res.kind))
	}
	res.defaults(obj)
	return obj, warnings, nil
}

func writeWarnings(w http.ResponseWriter, warnings []string) {
	for _, text := range warnings {
		addWarning(w, text)
	}
}

func (s *Server) handleGet(w http.ResponseWriter, r *http.Request, res *resource, ns, name string) {
	if err := decodeMetaOptions(r.URL.Query(), &metav1.GetOptions{}); err != nil {
		writeError(w, r, err)
		return
	}
	obj, err := s.store.get(res, ns, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeObject(w, r, res, http.StatusOK, obj)
}

// handleList lists or, with watch=true or a /watch/ path, watches res.
// name is set only for the legacy watch of one object.
func (s *Server) handleList(w http.ResponseWriter, r *http.Request, res *resource, ns, name string, forceWatch bool) {
	opts, pred, err := parseListOptions(r.URL.Query(), res, name)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if opts.Watch || forceWatch {
		s.serveWatch(w, r, res, ns, opts, pred)
		return
	}
	items, rv := s.store.list(res, ns, func(o object) bool { return pred.matches(res, o) })
	list := res.newList(items)
	accessor, err := meta.ListAccessor(list)
	if err != nil {
		writeError(w, r, apierrors.NewInternalError(err))
		return
	}
	accessor.SetResourceVersion(strconv.FormatUint(rv, 10))
	writeObject(w, r, res, http.StatusOK, list)
}

func (s *Server) handleCreate(w http.ResponseWriter, r *http.Request, res *resource, ns string) {
	opts := &metav1.CreateOptions{}
	if err := decodeMetaOptions(r.URL.Query(), opts); err != nil {
		writeError(w, r, err)
		return
	}
	if errs := metavalidation.ValidateCreateOptions(opts); len(errs) > 0 {
		writeError(w, r, invalidOptions("CreateOptions", errs))
		return
	}
	if len(opts.DryRun) > 0 {
		writeError(w, r, errDryRun)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, warnings, err := decodeObject(body, r.Header.Get("Content-Type"), res, fieldValidation(opts.FieldValidation))
	if err != nil {
		writeError(w, r, err)
		return
	}
	created, err := s.createObject(res, ns, obj)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	writeObject(w, r, res, http.StatusCreated, created)
}

// handleUpdate replaces the object, or with st the status strategy its status.
func (s *Server) handleUpdate(w http.ResponseWriter, r *http.Request, res *resource, st strategy, ns, name string) {
	opts := &metav1.UpdateOptions{}
	if err := decodeMetaOptions(r.URL.Query(), opts); err != nil {
		writeError(w, r, err)
		return
	}
	if errs := metavalidation.ValidateUpdateOptions(opts); len(errs) > 0 {
		writeError(w, r, invalidOptions("UpdateOptions", errs))
		return
	}
	if len(opts.DryRun) > 0 {
		writeError(w, r, errDryRun)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	obj, warnings, err := decodeObject(body, r.Header.Get("Content-Type"), res, fieldValidation(opts.FieldValidation))
	if err != nil {
		writeError(w, r, err)
		return
	}
	updated, err := s.updateObject(res, st, ns, name, func(object) (object, error) { return obj, nil })
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	writeObject(w, r, res, http.StatusOK, updated)
}

// handlePatch patches the object, or with st the status strategy its status.
func (s *Server) handlePatch(w http.ResponseWriter, r *http.Request, res *resource, st strategy, ns, name string) {
	patchType, err := checkPatchType(r.Header.Get("Content-Type"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts := &metav1.PatchOptions{}
	if err := decodeMetaOptions(r.URL.Query(), opts); err != nil {
		writeError(w, r, err)
		return
	}
	if errs := metavalidation.ValidatePatchOptions(opts, patchType); len(errs) > 0 {
		writeError(w, r, invalidOptions("PatchOptions", errs))
		return
	}
	if len(opts.DryRun) > 0 {
		writeError(w, r, errDryRun)
		return
	}
	patch, err := readBody(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var warnings []string
	updated, err := s.updateObject(res, st, ns, name, func(cur object) (object, error) {
		patched, err := applyPatch(res, patchType, cur, patch)
		if err != nil {
			return nil, err
		}
		obj, w, err := decodeObject(patched, runtime.ContentTypeJSON, res, fieldValidation(opts.FieldValidation))
		warnings = w
		return obj, err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	writeObject(w, r, res, http.StatusOK, updated)
}

// deleteOptions reads DeleteOptions from the body, or else the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return opts, decodeMetaOptions(r.URL.Query(), opts)
	}
	info, err := negotiation.NegotiateInputSerializer(r, false, inputCodecs)
	if err != nil {
		return nil, err
	}
	defaultGVK := metav1.SchemeGroupVersion.WithKind("DeleteOptions")
	if _, _, err := inputCodecs.DecoderToVersion(info.Serializer, metav1.SchemeGroupVersion).Decode(body, &defaultGVK, opts); err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return opts, nil
}

func (s *Server) handleDelete(w http.ResponseWriter, r *http.Request, res *resource, ns, name string) {
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(opts.DryRun) > 0 {
		writeError(w, r, errDryRun)
		return
	}
	out, _, err := s.deleteObject(res, ns, name, opts)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeObject(w, r, res, http.StatusOK, out)
}

// handleDeleteCollection deletes every selected object, one by one, and
// answers the list of them as they were deleted or marked.
func (s *Server) handleDeleteCollection(w http.ResponseWriter, r *http.Request, res *resource, ns string) {
	_, pred, err := parseListOptions(r.URL.Query(), res, "")
	if err != nil {
		writeError(w, r, err)
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(opts.DryRun) > 0 {
		writeError(w, r, errDryRun)
		return
	}
	items, rv := s.store.list(res, ns, func(o object) bool { return pred.matches(res, o) })
	var done []object
	for _, item := range items {
		o := *opts
		out, _, err := s.deleteObject(res, item.GetNamespace(), item.GetName(), &o)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		if obj, ok := out.(object); ok {
			done = append(done, obj)
		} else {
			done = append(done, item)
		}
	}
	list := res.newList(done)
	if accessor, err := meta.ListAccessor(list); err == nil {
		accessor.SetResourceVersion(strconv.FormatUint(rv, 10))
	}
	writeObject(w, r, res, http.StatusOK, list)
}

// methodNotAllowed answers a method a path does not serve.
func methodNotAllowed(w http.ResponseWriter, r *http.Request, gr schema.GroupResource) {
	writeError(w, r, apierrors.NewMethodNotSupported(gr, r.Method))
}
