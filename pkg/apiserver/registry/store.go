package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
)

// HistorySize is how many events the store keeps for watches that resume
// from a resource version; older ones get 410 Gone and relist, as from
// kube-apiserver's watch cache.
const HistorySize = 1000

// event is one change to the store. prev is the object before a
// modification, so that a watch with a selector can tell an object entering
// or leaving its selection.
type event struct {
	typ  watch.EventType
	res  *Resource
	obj  Object
	prev Object
	rv   uint64
}

// Store holds every object in memory under one lock, stamps each change with
// the next resource version of a global counter (etcd's revision), keeps
// recent changes for resuming watches, fans changes out to watchers and,
// with a data directory, makes each change durable before it is answered
// (persist.go). It stands for etcd and the watch cache together; upstream
// has no library for an in-memory store that serves the API, so it is
// written here. The verbs with the registry's rules (create, update,
// delete) are in rest.go and delete.go.
type Store struct {
	mu        sync.Mutex
	rv        uint64
	resources []*Resource
	objects   map[*Resource]map[string]Object
	history   []event
	// oldest is the resource version after which history is complete.
	oldest   uint64
	watchers map[*watcher]struct{}
	disk     *disk
	log      *slog.Logger
	// onChange, if set, hears of every committed change (outside the lock).
	onChange func()
}

// Open returns the store of Resources, loaded from the snapshot and the
// write-ahead log in dataDir (empty: in memory only), with the system
// namespaces created. onChange, if set, is called after every change: it
// wakes the controllers.
func Open(dataDir string, log *slog.Logger, onChange func()) (*Store, error) {
	var d *disk
	if dataDir != "" {
		var err error
		if d, err = newDisk(dataDir); err != nil {
			return nil, err
		}
	}
	st, err := newStore(Resources, d, log)
	if err != nil {
		return nil, err
	}
	st.onChange = onChange
	if err := st.ensureSystemNamespaces(); err != nil {
		return nil, err
	}
	return st, nil
}

func newStore(resources []*Resource, d *disk, log *slog.Logger) (*Store, error) {
	s := &Store{
		resources: resources,
		objects:   map[*Resource]map[string]Object{},
		watchers:  map[*watcher]struct{}{},
		disk:      d,
		log:       log,
	}
	for _, r := range resources {
		s.objects[r] = map[string]Object{}
	}
	if d != nil {
		rv, tornAt, err := d.load(resources, s.objects)
		if err != nil {
			return nil, err
		}
		if tornAt >= 0 {
			log.Warn("cut off the write-ahead log's torn last record, a write that was never answered", "file", d.walPath, "offset", tornAt)
		}
		s.rv = rv
	}
	s.oldest = s.rv
	return s, nil
}

// ResourceVersion is the store's current resource version.
func (s *Store) ResourceVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
}

// Get returns a copy of ns/name of res.
func (s *Store) Get(res *Resource, ns, name string) (Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[res][res.key(ns, name)]
	if !ok {
		return nil, apierrors.NewNotFound(res.gr, name)
	}
	return obj.DeepCopyObject().(Object), nil
}

// List returns copies of the objects of res in namespace ns ("" for all)
// that match, sorted by key as etcd lists them, and the resource version
// they are current at.
func (s *Store) List(res *Resource, ns string, match func(Object) bool) ([]Object, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked(res, ns, match), s.rv
}

func (s *Store) listLocked(res *Resource, ns string, match func(Object) bool) []Object {
	keys := make([]string, 0, len(s.objects[res]))
	for k, obj := range s.objects[res] {
		if ns != "" && obj.GetNamespace() != ns {
			continue
		}
		if match != nil && !match(obj) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	items := make([]Object, len(keys))
	for i, k := range keys {
		items[i] = s.objects[res][k].DeepCopyObject().(Object)
	}
	return items
}

// insert stores obj, which must not exist yet, and returns it as stored.
func (s *Store) insert(res *Resource, obj Object) (Object, error) {
	s.mu.Lock()
	key := res.key(obj.GetNamespace(), obj.GetName())
	if _, ok := s.objects[res][key]; ok {
		s.mu.Unlock()
		return nil, apierrors.NewAlreadyExists(res.gr, obj.GetName())
	}
	stored := obj.DeepCopyObject().(Object)
	err := s.commitLocked(res, key, watch.Added, stored, nil)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.notify()
	return stored.DeepCopyObject().(Object), nil
}

// GuaranteedUpdate applies tryUpdate to a copy of the current object and stores the
// result, as etcd3's GuaranteedUpdate does; the whole read-modify-write holds
// the lock, so tryUpdate sees the latest object and must not block. An
// update that changes nothing is not written and keeps its resource version.
// If tryUpdate answers errDeleteNow the object is removed instead, and
// update returns it with deleted set.
func (s *Store) GuaranteedUpdate(res *Resource, ns, name string, tryUpdate func(cur Object) (Object, error)) (obj Object, deleted bool, err error) {
	s.mu.Lock()
	key := res.key(ns, name)
	cur, ok := s.objects[res][key]
	if !ok {
		s.mu.Unlock()
		return nil, false, apierrors.NewNotFound(res.gr, name)
	}
	updated, err := tryUpdate(cur.DeepCopyObject().(Object))
	typ := watch.Modified
	switch {
	case errors.Is(err, errDeleteNow):
		typ, updated = watch.Deleted, cur.DeepCopyObject().(Object)
	case err != nil:
		s.mu.Unlock()
		return nil, false, err
	default:
		updated = updated.DeepCopyObject().(Object)
		updated.SetResourceVersion(cur.GetResourceVersion())
		if same, err := equalJSON(cur, updated); err != nil || same {
			s.mu.Unlock()
			if err != nil {
				return nil, false, apierrors.NewInternalError(err)
			}
			return cur.DeepCopyObject().(Object), false, nil
		}
	}
	err = s.commitLocked(res, key, typ, updated, cur)
	s.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	s.notify()
	return updated.DeepCopyObject().(Object), typ == watch.Deleted, nil
}

// Remove deletes the object if check (given the current object) allows it
// and returns it stamped with the deletion's resource version.
func (s *Store) Remove(res *Resource, ns, name string, check func(cur Object) error) (Object, error) {
	s.mu.Lock()
	key := res.key(ns, name)
	cur, ok := s.objects[res][key]
	if !ok {
		s.mu.Unlock()
		return nil, apierrors.NewNotFound(res.gr, name)
	}
	if check != nil {
		if err := check(cur.DeepCopyObject().(Object)); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	gone := cur.DeepCopyObject().(Object)
	err := s.commitLocked(res, key, watch.Deleted, gone, cur)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.notify()
	return gone.DeepCopyObject().(Object), nil
}

// commitLocked applies one change under the next resource version, appends
// it to the write-ahead log (undoing the change if that fails), records the
// event and hands it to the watchers. The caller answers the write only
// after this returns: an answered write is on disk.
func (s *Store) commitLocked(res *Resource, key string, typ watch.EventType, obj, prev Object) error {
	rv := s.rv + 1
	obj.SetResourceVersion(strconv.FormatUint(rv, 10))
	if typ == watch.Deleted {
		delete(s.objects[res], key)
	} else {
		s.objects[res][key] = obj
	}
	if s.disk != nil {
		if err := s.disk.append(rv, res, typ, obj); err != nil {
			if prev != nil {
				s.objects[res][key] = prev
			} else {
				delete(s.objects[res], key)
			}
			return apierrors.NewInternalError(fmt.Errorf("persist %s %s: %w", res.gr, key, err))
		}
		if s.disk.shouldCompact() {
			// The change is durable in the log already; a failed
			// compaction only leaves the log longer.
			if err := s.disk.compact(rv, s.resources, s.objects); err != nil {
				s.log.Error("compact the store", "err", err)
			}
		}
	}
	s.rv = rv
	ev := event{typ: typ, res: res, obj: obj, prev: prev, rv: rv}
	s.history = append(s.history, ev)
	if len(s.history) > HistorySize {
		s.oldest = s.history[0].rv
		s.history = s.history[1:]
	}
	for w := range s.watchers {
		w.deliverLocked(s, ev)
	}
	return nil
}

// notify tells onChange of a committed change.
func (s *Store) notify() {
	if s.onChange != nil {
		s.onChange()
	}
}

// equalJSON reports whether a and b serialize the same, which is how etcd3
// decides that an update is a no-op.
func equalJSON(a, b Object) (bool, error) {
	ja, err := json.Marshal(a)
	if err != nil {
		return false, err
	}
	jb, err := json.Marshal(b)
	if err != nil {
		return false, err
	}
	return bytes.Equal(ja, jb), nil
}
