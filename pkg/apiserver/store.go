package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"
)

// historySize is how many events the store keeps for watches that resume
// from a resource version; older ones get 410 Gone and relist, as from
// kube-apiserver's watch cache.
const historySize = 1000

// event is one change to the store. prev is the object before a
// modification, so that a watch with a selector can tell an object entering
// or leaving its selection.
type event struct {
	typ  watch.EventType
	res  *resource
	obj  object
	prev object
	rv   uint64
}

// store holds every object in memory under one lock, stamps each change with
// the next resource version of a global counter (etcd's revision), keeps
// recent changes for resuming watches, fans changes out to watchers and
// writes a snapshot after each change when it has a data directory.
type store struct {
	mu        sync.Mutex
	rv        uint64
	resources []*resource
	objects   map[*resource]map[string]object
	history   []event
	// oldest is the resource version after which history is complete.
	oldest   uint64
	watchers map[*watcher]struct{}
	snapshot *snapshotFile
	// changed, if set, hears of every committed change (outside the lock).
	changed func(event)
}

func newStore(resources []*resource, snap *snapshotFile) (*store, error) {
	s := &store{
		resources: resources,
		objects:   map[*resource]map[string]object{},
		watchers:  map[*watcher]struct{}{},
		snapshot:  snap,
	}
	for _, r := range resources {
		s.objects[r] = map[string]object{}
	}
	if snap != nil {
		rv, err := snap.load(resources, s.objects)
		if err != nil {
			return nil, err
		}
		s.rv = rv
	}
	s.oldest = s.rv
	return s, nil
}

// resourceVersion is the store's current resource version.
func (s *store) resourceVersion() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
}

func (s *store) get(res *resource, ns, name string) (object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	obj, ok := s.objects[res][res.key(ns, name)]
	if !ok {
		return nil, apierrors.NewNotFound(res.gr, name)
	}
	return obj.DeepCopyObject().(object), nil
}

// list returns copies of the objects of res in namespace ns ("" for all)
// that match, sorted by key as etcd lists them, and the resource version
// they are current at.
func (s *store) list(res *resource, ns string, match func(object) bool) ([]object, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked(res, ns, match), s.rv
}

func (s *store) listLocked(res *resource, ns string, match func(object) bool) []object {
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
	items := make([]object, len(keys))
	for i, k := range keys {
		items[i] = s.objects[res][k].DeepCopyObject().(object)
	}
	return items
}

// create stores obj, which must not exist yet, and returns it as stored.
func (s *store) create(res *resource, obj object) (object, error) {
	s.mu.Lock()
	key := res.key(obj.GetNamespace(), obj.GetName())
	if _, ok := s.objects[res][key]; ok {
		s.mu.Unlock()
		return nil, apierrors.NewAlreadyExists(res.gr, obj.GetName())
	}
	stored := obj.DeepCopyObject().(object)
	ev, err := s.commitLocked(res, key, watch.Added, stored, nil)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.notify(ev)
	return stored.DeepCopyObject().(object), nil
}

// update applies tryUpdate to a copy of the current object and stores the
// result, as etcd3's GuaranteedUpdate does; the whole read-modify-write holds
// the lock, so tryUpdate sees the latest object and must not block. An
// update that changes nothing is not written and keeps its resource version.
// If tryUpdate answers errDeleteNow the object is removed instead, and
// update returns it with deleted set.
func (s *store) update(res *resource, ns, name string, tryUpdate func(cur object) (object, error)) (obj object, deleted bool, err error) {
	s.mu.Lock()
	key := res.key(ns, name)
	cur, ok := s.objects[res][key]
	if !ok {
		s.mu.Unlock()
		return nil, false, apierrors.NewNotFound(res.gr, name)
	}
	updated, err := tryUpdate(cur.DeepCopyObject().(object))
	typ := watch.Modified
	switch {
	case errors.Is(err, errDeleteNow):
		typ, updated = watch.Deleted, cur.DeepCopyObject().(object)
	case err != nil:
		s.mu.Unlock()
		return nil, false, err
	default:
		updated = updated.DeepCopyObject().(object)
		updated.SetResourceVersion(cur.GetResourceVersion())
		if same, err := equalJSON(cur, updated); err != nil || same {
			s.mu.Unlock()
			if err != nil {
				return nil, false, apierrors.NewInternalError(err)
			}
			return cur.DeepCopyObject().(object), false, nil
		}
	}
	ev, err := s.commitLocked(res, key, typ, updated, cur)
	s.mu.Unlock()
	if err != nil {
		return nil, false, err
	}
	s.notify(ev)
	return updated.DeepCopyObject().(object), typ == watch.Deleted, nil
}

// remove deletes the object if check (given the current object) allows it
// and returns it stamped with the deletion's resource version.
func (s *store) remove(res *resource, ns, name string, check func(cur object) error) (object, error) {
	s.mu.Lock()
	key := res.key(ns, name)
	cur, ok := s.objects[res][key]
	if !ok {
		s.mu.Unlock()
		return nil, apierrors.NewNotFound(res.gr, name)
	}
	if check != nil {
		if err := check(cur.DeepCopyObject().(object)); err != nil {
			s.mu.Unlock()
			return nil, err
		}
	}
	gone := cur.DeepCopyObject().(object)
	ev, err := s.commitLocked(res, key, watch.Deleted, gone, cur)
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	s.notify(ev)
	return gone.DeepCopyObject().(object), nil
}

// commitLocked applies one change under the next resource version, writes
// the snapshot (undoing the change if that fails), records the event and
// hands it to the watchers.
func (s *store) commitLocked(res *resource, key string, typ watch.EventType, obj, prev object) (event, error) {
	rv := s.rv + 1
	obj.SetResourceVersion(strconv.FormatUint(rv, 10))
	if typ == watch.Deleted {
		delete(s.objects[res], key)
	} else {
		s.objects[res][key] = obj
	}
	if s.snapshot != nil {
		if err := s.snapshot.save(rv, s.resources, s.objects); err != nil {
			if prev != nil {
				s.objects[res][key] = prev
			} else {
				delete(s.objects[res], key)
			}
			return event{}, apierrors.NewInternalError(fmt.Errorf("persist %s %s: %w", res.gr, key, err))
		}
	}
	s.rv = rv
	ev := event{typ: typ, res: res, obj: obj, prev: prev, rv: rv}
	s.history = append(s.history, ev)
	if len(s.history) > historySize {
		s.oldest = s.history[0].rv
		s.history = s.history[1:]
	}
	for w := range s.watchers {
		w.deliverLocked(s, ev)
	}
	return ev, nil
}

func (s *store) notify(ev event) {
	if s.changed != nil {
		s.changed(ev)
	}
}

// equalJSON reports whether a and b serialize the same, which is how etcd3
// decides that an update is a no-op.
func equalJSON(a, b object) (bool, error) {
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
