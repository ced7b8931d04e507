package registry

import (
	"fmt"
	"strconv"
	"sync/atomic"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

// watcherBuffer is how many events a watcher may fall behind before the
// store drops it; the client then resumes from its last resource version,
// as with kube-apiserver's cacher closing unresponsive watchers.
const watcherBuffer = 256

// watchEvent is one event as a particular watcher sees it.
type watchEvent struct {
	typ watch.EventType
	obj Object
}

// watcher receives the changes of one resource that match its namespace
// and selector.
type watcher struct {
	res  *Resource
	ns   string
	pred predicate
	ch   chan watchEvent
	// progress is the resource version of the last change the store has
	// offered this watcher, whether it matched or not. Bookmarks report it.
	progress atomic.Uint64
	// closed is guarded by the store's lock.
	closed bool
}

// convert says what ev means to w, as upstream's cacheWatcher does: an
// object that starts matching is ADDED, one that stops is DELETED (its old
// state at the new resource version).
func (w *watcher) convert(ev event) (watchEvent, bool) {
	if ev.res != w.res || (w.ns != "" && ev.obj.GetNamespace() != w.ns) {
		return watchEvent{}, false
	}
	cur := ev.typ != watch.Deleted && w.pred.matches(w.res, ev.obj)
	old := ev.prev != nil && w.pred.matches(w.res, ev.prev)
	switch {
	case cur && !old:
		return watchEvent{watch.Added, ev.obj}, true
	case cur && old:
		return watchEvent{watch.Modified, ev.obj}, true
	case !cur && old:
		gone := ev.prev.DeepCopyObject().(Object)
		gone.SetResourceVersion(strconv.FormatUint(ev.rv, 10))
		return watchEvent{watch.Deleted, gone}, true
	}
	return watchEvent{}, false
}

// deliverLocked offers ev to w; a watcher too far behind is closed.
func (w *watcher) deliverLocked(s *Store, ev event) {
	if we, ok := w.convert(ev); ok {
		select {
		case w.ch <- we:
		default:
			s.stopWatchLocked(w)
			return
		}
	}
	w.progress.Store(ev.rv)
}

// watchRequest says where a watch starts.
type watchRequest struct {
	res  *Resource
	ns   string
	pred predicate
	// resourceVersion is the client's resourceVersion parameter.
	resourceVersion string
	// initialEvents asks for the matching objects as ADDED events first
	// (sendInitialEvents, or the legacy start at "" or "0").
	initialEvents bool
}

// watch registers a watcher and returns it with the events it must send
// before those arriving on its channel, and the resource version those
// initial events bring the client to. Registration and the initial state
// are taken under one lock, so nothing falls between them.
func (s *Store) watch(req watchRequest) (*watcher, []watchEvent, uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var from uint64
	if req.resourceVersion != "" && req.resourceVersion != "0" {
		rv, err := strconv.ParseUint(req.resourceVersion, 10, 64)
		if err != nil {
			return nil, nil, 0, apierrors.NewBadRequest(fmt.Sprintf("invalid resource version: %v", err))
		}
		if rv > s.rv {
			return nil, nil, 0, tooLargeResourceVersion(rv, s.rv)
		}
		from = rv
	}
	w := &watcher{res: req.res, ns: req.ns, pred: req.pred, ch: make(chan watchEvent, watcherBuffer)}
	w.progress.Store(s.rv)
	var initial []watchEvent
	switch {
	case req.initialEvents:
		for _, obj := range s.listLocked(req.res, req.ns, func(o Object) bool { return req.pred.matches(req.res, o) }) {
			initial = append(initial, watchEvent{watch.Added, obj})
		}
	case from != 0:
		if from < s.oldest {
			return nil, nil, 0, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, s.oldest))
		}
		for _, ev := range s.history {
			if ev.rv <= from {
				continue
			}
			if we, ok := w.convert(ev); ok {
				initial = append(initial, we)
			}
		}
	}
	s.watchers[w] = struct{}{}
	return w, initial, s.rv, nil
}

// stopWatch unregisters w and closes its channel; it is safe to call twice.
func (s *Store) stopWatch(w *watcher) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopWatchLocked(w)
}

func (s *Store) stopWatchLocked(w *watcher) {
	if w.closed {
		return
	}
	w.closed = true
	delete(s.watchers, w)
	close(w.ch)
}

// tooLargeResourceVersion is the error for a resource version the store has
// not reached (storage.NewTooLargeResourceVersionError upstream).
func tooLargeResourceVersion(asked, current uint64) error {
	err := apierrors.NewTimeoutError(fmt.Sprintf("Too large resource version: %d, current: %d", asked, current), 1)
	err.ErrStatus.Details.Causes = []metav1.StatusCause{{
		Type:    metav1.CauseTypeResourceVersionTooLarge,
		Message: "Too large resource version",
	}}
	return err
}
