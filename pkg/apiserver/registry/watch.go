package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/endpoints/handlers/responsewriters"
)

// Watches, served as kube-apiserver does (handlers/watch.go and the
// cacher): a chunked stream of {"type":..., "object":...} lines, flushed
// whenever no further event is waiting. A watch ends at its timeout, when
// the client goes, when it falls too far behind, or when the server stops.

// minRequestTimeout is kube-apiserver's --min-request-timeout: a watch
// without timeoutSeconds lasts a random time between it and twice it.
const minRequestTimeout = 30 * time.Minute

// watchStream writes the events of one watch response.
type watchStream struct {
	w        http.ResponseWriter
	r        *http.Request
	res      *Resource
	out      output
	flusher  http.Flusher
	rv       uint64
	noHeader bool
}

func (a *API) serveWatch(w http.ResponseWriter, r *http.Request, res *Resource, ns string, opts *metainternalversion.ListOptions, pred predicate) {
	out, err := negotiateOutput(r, res)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if out.info.StreamSerializer == nil {
		WriteError(w, r, apierrors.NewBadRequest(fmt.Sprintf("no stream framing support is available for media type %q", out.info.MediaType)))
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		WriteError(w, r, apierrors.NewInternalError(fmt.Errorf("unable to start watch - can't get http.Flusher: %T", w)))
		return
	}
	if opts.ResourceVersion != "" {
		if _, err := strconv.ParseUint(opts.ResourceVersion, 10, 64); err != nil {
			WriteError(w, r, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err)))
			return
		}
	}
	timeout := time.Duration(float64(minRequestTimeout) * (rand.Float64() + 1))
	if opts.TimeoutSeconds != nil && *opts.TimeoutSeconds > 0 {
		timeout = time.Duration(*opts.TimeoutSeconds) * time.Second
	}
	deadline := time.Now().Add(timeout)

	ws := &watchStream{w: w, r: r, res: res, out: out, flusher: flusher}
	w.Header().Set("Content-Type", out.info.MediaType)
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	flusher.Flush()

	initialEvents := opts.SendInitialEvents != nil && *opts.SendInitialEvents
	watcher, initial, startRV, err := a.Store.watch(watchRequest{res: res, ns: ns, pred: pred, resourceVersion: opts.ResourceVersion, initialEvents: initialEvents})
	if err != nil {
		// Past authorization and a valid resource version, upstream reports
		// an expired or future resource version as an ERROR event.
		ws.send(watch.Error, responsewriters.ErrorToAPIStatus(err))
		flusher.Flush()
		return
	}
	defer a.Store.stopWatch(watcher)

	for _, ev := range initial {
		if ws.send(ev.typ, ev.obj) != nil {
			return
		}
	}
	if initialEvents && opts.AllowWatchBookmarks {
		if ws.bookmark(startRV, true) != nil {
			return
		}
	}
	flusher.Flush()

	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var bookmarks <-chan time.Time
	var bookmarkTimer *time.Timer
	if opts.AllowWatchBookmarks {
		bookmarkTimer = time.NewTimer(a.nextBookmark(deadline))
		defer bookmarkTimer.Stop()
		bookmarks = bookmarkTimer.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.Stop:
			return
		case <-timer.C:
			return
		case <-bookmarks:
			// Read the progress before looking at the queue: an event
			// queued after the read is past it, one queued before is sent.
			progress := watcher.progress.Load()
			if len(watcher.ch) == 0 && progress > ws.rv {
				if ws.bookmark(progress, false) != nil {
					return
				}
				flusher.Flush()
			}
			bookmarkTimer.Reset(a.nextBookmark(deadline))
		case ev, ok := <-watcher.ch:
			if !ok || ws.send(ev.typ, ev.obj) != nil {
				return
			}
			if len(watcher.ch) == 0 {
				flusher.Flush()
			}
		}
	}
}

// nextBookmark is when the next bookmark is due: every bookmark interval,
// and once just before the watch times out, as upstream's cacheWatcher.
func (a *API) nextBookmark(deadline time.Time) time.Duration {
	next := a.BookmarkInterval
	if untilEnd := time.Until(deadline) - 2*time.Second; untilEnd > 0 && untilEnd < next {
		next = untilEnd
	}
	return next
}

// send writes one event. Objects become Tables or metadata if the client
// asked for that; Table column definitions come with the first event only.
func (ws *watchStream) send(typ watch.EventType, obj runtime.Object) error {
	// Event objects are shared with the store and other watchers, and
	// encoding sets their kind in place.
	obj = obj.DeepCopyObject()
	result, gv := obj, ws.res.gv
	if typ != watch.Error && typ != watch.Bookmark {
		var err error
		result, gv, err = transform(ws.r, ws.res, ws.out.convert, obj, ws.noHeader)
		if err != nil {
			result, gv, typ = responsewriters.ErrorToAPIStatus(err), ws.res.gv, watch.Error
		}
		ws.noHeader = true
	}
	var buf bytes.Buffer
	if err := encoderFor(ws.out.info.StreamSerializer.Serializer, gv).Encode(result, &buf); err != nil {
		return err
	}
	if o, ok := obj.(Object); ok {
		if rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64); err == nil && rv > ws.rv {
			ws.rv = rv
		}
	}
	return json.NewEncoder(ws.w).Encode(&metav1.WatchEvent{Type: string(typ), Object: runtime.RawExtension{Raw: buf.Bytes()}})
}

// bookmark sends a BOOKMARK: an empty object at resource version rv, and
// with initialEventsEnd the annotation that ends a watch list's initial
// events (KEP-3157).
func (ws *watchStream) bookmark(rv uint64, initialEventsEnd bool) error {
	obj := ws.res.newObject()
	obj.SetResourceVersion(strconv.FormatUint(rv, 10))
	if initialEventsEnd {
		obj.SetAnnotations(map[string]string{metav1.InitialEventsAnnotationKey: "true"})
	}
	return ws.send(watch.Bookmark, obj)
}
