package fakecri

import (
	"cmp"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
)

// object is what sandboxes and containers have alike, as in containerd's
// stores (internal/cri/store/sandbox, internal/cri/store/container): an ID,
// a name reserved for it, a directory under Root that holds its record, and
// a creation time.
type object struct {
	kind      string // "sandbox" or "container", in logs and errors
	id        string
	name      string
	dir       string
	createdAt int64

	// saveMu orders the writes of the record.
	saveMu sync.Mutex
}

func (o *object) meta() *object { return o }

// kept is a sandbox or a container.
type kept interface {
	meta() *object
	// record is what is kept of it under Root, as it is now.
	record() (any, error)
}

// newID returns 32 random bytes in hex, the shape of containerd's IDs
// (internal/cri/util.GenerateID).
func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// lookup finds the entry whose ID is id or starts with it. containerd's
// stores accept any unique prefix (internal/truncindex), and so does every
// RPC here that takes an ID.
func lookup[T any](m map[string]T, id string) (T, error) {
	var zero T
	if id == "" {
		return zero, fmt.Errorf("empty ID: %w", errInvalidArgument)
	}
	if v, ok := m[id]; ok {
		return v, nil
	}
	var found []string
	for full := range m {
		if strings.HasPrefix(full, id) {
			found = append(found, full)
		}
	}
	switch len(found) {
	case 0:
		return zero, errNotFound
	case 1:
		return m[found[0]], nil
	default:
		return zero, fmt.Errorf("multiple IDs found with provided prefix %q: %w", id, errInvalidArgument)
	}
}

// lookupToClean finds the kind of object id names, for a Stop or Remove
// call, which CRI makes idempotent: an ID that names nothing is found
// false, and no error.
func lookupToClean[T kept](rt *Runtime, m map[string]T, kind, id string) (x T, found bool, err error) {
	rt.mu.Lock()
	x, err = lookup(m, id)
	rt.mu.Unlock()
	switch {
	case errors.Is(err, errNotFound):
		return x, false, nil
	case err != nil:
		return x, false, fmt.Errorf("an error occurred when try to find %s %q: %w", kind, id, err)
	}
	return x, true, nil
}

// add puts x in m and reserves its name for it (again, for one just
// created: reserveName came first, to refuse a duplicate early).
func add[T kept](rt *Runtime, m map[string]T, x T) {
	o := x.meta()
	rt.mu.Lock()
	defer rt.mu.Unlock()
	m[o.id] = x
	rt.names[o.name] = o.id
}

// forget takes x out of m and releases its name, unless another call did
// so first, then removes its directory.
func forget[T interface {
	comparable
	kept
}](rt *Runtime, m map[string]T, x T) error {
	o := x.meta()
	rt.mu.Lock()
	if m[o.id] != x { // removed meanwhile by another call
		rt.mu.Unlock()
		return nil
	}
	delete(m, o.id)
	delete(rt.names, o.name)
	rt.mu.Unlock()
	if err := os.RemoveAll(o.dir); err != nil {
		return fmt.Errorf("failed to remove %s root directory %q: %w", o.kind, o.dir, err)
	}
	rt.log.Info(o.kind+" removed", "id", o.id, "name", o.name)
	return nil
}

// oldestFirst lists m's objects in the order CRI's List calls answer.
// rt.mu is held.
func oldestFirst[T kept](m map[string]T) []T {
	return slices.SortedFunc(maps.Values(m), func(a, b T) int {
		return cmp.Compare(a.meta().createdAt, b.meta().createdAt)
	})
}

// fullID is the ID of the object that id is a unique prefix of, as a List
// filter matches it, else id itself. rt.mu is held.
func fullID[T kept](m map[string]T, id string) string {
	if x, err := lookup(m, id); err == nil {
		return x.meta().id
	}
	return id
}
