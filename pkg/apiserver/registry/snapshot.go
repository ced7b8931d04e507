package registry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// snapshotFile keeps the whole store in one JSON file, rewritten atomically
// (temporary file, fsync, rename) after every change, so that a restarted
// server comes back with the same objects and resource versions.
type snapshotFile struct {
	path string
}

// snapshot is the file's layout: objects by resource name, and the
// resource version, which may be ahead of every object's after a delete.
type snapshot struct {
	ResourceVersion uint64                       `json:"resourceVersion"`
	Objects         map[string][]json.RawMessage `json:"objects"`
}

func newSnapshotFile(dir string) (*snapshotFile, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return &snapshotFile{path: filepath.Join(dir, "snapshot.json")}, nil
}

// load fills objects from the file and returns its resource version; a
// missing file is an empty store.
func (f *snapshotFile) load(resources []*Resource, objects map[*Resource]map[string]Object) (uint64, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read snapshot: %w", err)
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return 0, fmt.Errorf("decode snapshot %s: %w", f.path, err)
	}
	for _, res := range resources {
		for _, raw := range snap.Objects[res.gr.Resource] {
			obj := res.newObject()
			if err := json.Unmarshal(raw, obj); err != nil {
				return 0, fmt.Errorf("decode snapshot %s: %s: %w", f.path, res.gr, err)
			}
			objects[res][res.key(obj.GetNamespace(), obj.GetName())] = obj
		}
	}
	return snap.ResourceVersion, nil
}

// save writes every object, in key order so that the file is stable.
func (f *snapshotFile) save(rv uint64, resources []*Resource, objects map[*Resource]map[string]Object) error {
	snap := snapshot{ResourceVersion: rv, Objects: map[string][]json.RawMessage{}}
	for _, res := range resources {
		keys := make([]string, 0, len(objects[res]))
		for k := range objects[res] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		items := make([]json.RawMessage, 0, len(keys))
		for _, k := range keys {
			raw, err := json.Marshal(objects[res][k])
			if err != nil {
				return err
			}
			items = append(items, raw)
		}
		snap.Objects[res.gr.Resource] = items
	}
	data, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), ".snapshot-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), f.path)
}
