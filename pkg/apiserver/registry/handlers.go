package registry

import (
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
)

// The HTTP side of the generic verbs, after
// k8s.io/apiserver/pkg/endpoints/handlers (get.go, create.go, update.go,
// patch.go, delete.go, watch.go): options from the query, the body decoded
// and defaulted, the answer negotiated.

// API serves the generic verbs of the Resources over HTTP: get, list,
// watch, create, update, patch, delete and deletecollection, and the
// status subresource.
type API struct {
	Store *Store
	// BookmarkInterval is how often watches that allow bookmarks get one.
	BookmarkInterval time.Duration
	// Stop, once closed, ends every watch: the server is stopping.
	Stop <-chan struct{}
}

// Serve serves a request for res under /api/v1: watch for the legacy
// /api/v1/watch/... paths, sub the subresource ("" or "status"; any other
// is 404), and name empty for the collection.
func (a *API) Serve(w http.ResponseWriter, r *http.Request, res *Resource, watch bool, sub, ns, name string) {
	if watch {
		if r.Method != http.MethodGet || sub != "" {
			WriteError(w, r, ErrNotFoundPath())
			return
		}
		a.handleList(w, r, res, ns, name, true)
		return
	}
	switch {
	case sub == "" && name == "":
		a.serveCollection(w, r, res, ns)
	case sub == "":
		a.serveObject(w, r, res, res.strategy, ns, name)
	case sub == "status" && res.status != nil && name != "":
		a.serveObject(w, r, res, res.status, ns, name)
	default:
		WriteError(w, r, ErrNotFoundPath())
	}
}

// serveCollection serves list, create and deletecollection.
func (a *API) serveCollection(w http.ResponseWriter, r *http.Request, res *Resource, ns string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		a.handleList(w, r, res, ns, "", false)
	case http.MethodPost:
		a.handleCreate(w, r, res, ns)
	case http.MethodDelete:
		if !res.hasVerb("deletecollection") {
			MethodNotAllowed(w, r, res.gr)
			return
		}
		a.handleDeleteCollection(w, r, res, ns)
	default:
		MethodNotAllowed(w, r, res.gr)
	}
}

// serveObject serves one object, or with the status strategy its status,
// which cannot be deleted.
func (a *API) serveObject(w http.ResponseWriter, r *http.Request, res *Resource, st strategy, ns, name string) {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead:
		a.handleGet(w, r, res, ns, name)
	case r.Method == http.MethodPut:
		a.handleUpdate(w, r, res, st, ns, name)
	case r.Method == http.MethodPatch:
		a.handlePatch(w, r, res, st, ns, name)
	case r.Method == http.MethodDelete && st == res.strategy: // not on status
		a.handleDelete(w, r, res, ns, name)
	default:
		MethodNotAllowed(w, r, res.gr)
	}
}

func (a *API) handleGet(w http.ResponseWriter, r *http.Request, res *Resource, ns, name string) {
	if err := decodeMetaOptions(r.URL.Query(), &metav1.GetOptions{}); err != nil {
		WriteError(w, r, err)
		return
	}
	obj, err := a.Store.Get(res, ns, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeObject(w, r, res, http.StatusOK, obj)
}

// handleList lists or, with watch=true or a /watch/ path, watches res.
// name is set only for the legacy watch of one object.
func (a *API) handleList(w http.ResponseWriter, r *http.Request, res *Resource, ns, name string, forceWatch bool) {
	opts, pred, err := parseListOptions(r.URL.Query(), res, name)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if opts.Watch || forceWatch {
		a.serveWatch(w, r, res, ns, opts, pred)
		return
	}
	items, rv := a.Store.List(res, ns, func(o Object) bool { return pred.matches(res, o) })
	writeList(w, r, res, items, rv)
}

func (a *API) handleCreate(w http.ResponseWriter, r *http.Request, res *Resource, ns string) {
	opts := &metav1.CreateOptions{}
	obj, warnings, err := readObject(r, res, opts, func() error {
		return invalidOptions("CreateOptions", metavalidation.ValidateCreateOptions(opts))
	})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	created, err := a.Store.Create(res, ns, obj)
	writeResult(w, r, res, http.StatusCreated, created, warnings, err)
}

// handleUpdate replaces the object, or with st the status strategy its status.
func (a *API) handleUpdate(w http.ResponseWriter, r *http.Request, res *Resource, st strategy, ns, name string) {
	opts := &metav1.UpdateOptions{}
	obj, warnings, err := readObject(r, res, opts, func() error {
		return invalidOptions("UpdateOptions", metavalidation.ValidateUpdateOptions(opts))
	})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	updated, err := a.Store.Update(res, st, ns, name, func(Object) (Object, error) { return obj, nil })
	writeResult(w, r, res, http.StatusOK, updated, warnings, err)
}

// handlePatch patches the object, or with st the status strategy its status.
func (a *API) handlePatch(w http.ResponseWriter, r *http.Request, res *Resource, st strategy, ns, name string) {
	patchType, err := checkPatchType(r.Header.Get("Content-Type"))
	if err != nil {
		WriteError(w, r, err)
		return
	}
	opts := &metav1.PatchOptions{}
	patch, directive, err := readWrite(r, opts, func() error {
		return invalidOptions("PatchOptions", metavalidation.ValidatePatchOptions(opts, patchType))
	})
	if err != nil {
		WriteError(w, r, err)
		return
	}
	var warnings []string
	updated, err := a.Store.Update(res, st, ns, name, func(cur Object) (Object, error) {
		patched, err := applyPatch(res, patchType, cur, patch)
		if err != nil {
			return nil, err
		}
		obj, w, err := decodeObject(patched, runtime.ContentTypeJSON, res, directive)
		warnings = w
		return obj, err
	})
	writeResult(w, r, res, http.StatusOK, updated, warnings, err)
}

func (a *API) handleDelete(w http.ResponseWriter, r *http.Request, res *Resource, ns, name string) {
	opts, err := deleteOptions(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	out, _, err := a.Store.Delete(res, ns, name, opts)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeObject(w, r, res, http.StatusOK, out)
}

// handleDeleteCollection deletes every selected object, one by one, and
// answers the list of them as they were deleted or marked.
func (a *API) handleDeleteCollection(w http.ResponseWriter, r *http.Request, res *Resource, ns string) {
	_, pred, err := parseListOptions(r.URL.Query(), res, "")
	if err != nil {
		WriteError(w, r, err)
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	items, rv := a.Store.List(res, ns, func(o Object) bool { return pred.matches(res, o) })
	var done []Object
	for _, item := range items {
		o := *opts
		out, _, err := a.Store.Delete(res, item.GetNamespace(), item.GetName(), &o)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			WriteError(w, r, err)
			return
		}
		if obj, ok := out.(Object); ok {
			done = append(done, obj)
		} else {
			done = append(done, item)
		}
	}
	writeList(w, r, res, done, rv)
}

// writeResult answers a write: its error, or its warnings and the object.
func writeResult(w http.ResponseWriter, r *http.Request, res *Resource, code int, obj Object, warnings []string, err error) {
	if err != nil {
		WriteError(w, r, err)
		return
	}
	writeWarnings(w, warnings)
	writeObject(w, r, res, code, obj)
}

// writeList answers items as a list of res at resource version rv.
func writeList(w http.ResponseWriter, r *http.Request, res *Resource, items []Object, rv uint64) {
	list := res.newList(items)
	accessor, err := meta.ListAccessor(list)
	if err != nil {
		WriteError(w, r, apierrors.NewInternalError(err))
		return
	}
	accessor.SetResourceVersion(strconv.FormatUint(rv, 10))
	writeObject(w, r, res, http.StatusOK, list)
}
