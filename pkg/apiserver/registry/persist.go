package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"k8s.io/apimachinery/pkg/watch"
)

// disk keeps the store in a data directory the way etcd keeps its keys: a
// write-ahead log (wal.log) that every change is appended to and fsynced
// before the write is answered, and a snapshot (snapshot.json) that the log
// is folded into once it has grown as large, after which the log starts
// again. This is etcd's "commit before reply": a change is acknowledged
// only once it is durable (server/storage/wal/wal.go, Save and sync;
// server/etcdserver/raft.go persists entries before they are applied).
type disk struct {
	dir      string
	snapPath string
	walPath  string
	// walBytes and snapBytes are the sizes of the log and of the last
	// snapshot: the log is folded in when it outgrows the snapshot.
	walBytes  int64
	snapBytes int64
	// floor is how large the log may grow however small the snapshot:
	// folding it in rewrites the whole store. compactFloor but in tests.
	floor int64
	// broken is set when a failed append could not be cut back off the
	// log: later records would follow one whose write was refused, so the
	// store takes no more writes (etcd stops on a failed WAL write).
	broken error
}

const compactFloor = 1 << 20

// crcTable is etcd's WAL record checksum (wal/encoder.go): CRC-32C.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// snapshot is snapshot.json's layout: objects by resource name, and the
// resource version, which may be ahead of every object's after a delete.
type snapshot struct {
	ResourceVersion uint64                       `json:"resourceVersion"`
	Objects         map[string][]json.RawMessage `json:"objects"`
}

// walRecord is one line of wal.log, after its checksum: one committed
// change. A deletion carries the object as it was.
type walRecord struct {
	RV       uint64          `json:"rv"`
	Resource string          `json:"resource"`
	Type     watch.EventType `json:"type"`
	Object   json.RawMessage `json:"object"`
}

func newDisk(dir string) (*disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return &disk{dir: dir, snapPath: filepath.Join(dir, "snapshot.json"), walPath: filepath.Join(dir, "wal.log"), floor: compactFloor}, nil
}

// load fills objects from the snapshot and the log after it and returns
// the resource version they are at, and whether a torn last record was cut
// off. A missing data directory's files are an empty store; anything it
// cannot read or decode is an error, never an empty store.
func (d *disk) load(resources []*Resource, objects map[*Resource]map[string]Object) (rv uint64, tornAt int64, err error) {
	byName := map[string]*Resource{}
	for _, res := range resources {
		byName[res.gr.Resource] = res
	}
	decode := func(res *Resource, raw []byte) (Object, error) {
		obj := res.newObject()
		if err := json.Unmarshal(raw, obj); err != nil {
			return nil, fmt.Errorf("%s: %w", res.gr, err)
		}
		return obj, nil
	}

	data, err := os.ReadFile(d.snapPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, -1, fmt.Errorf("read snapshot: %w", err)
	default:
		d.snapBytes = int64(len(data))
		var snap snapshot
		if err := json.Unmarshal(data, &snap); err != nil {
			return 0, -1, fmt.Errorf("decode snapshot %s: %w", d.snapPath, err)
		}
		for _, res := range resources {
			for _, raw := range snap.Objects[res.gr.Resource] {
				obj, err := decode(res, raw)
				if err != nil {
					return 0, -1, fmt.Errorf("decode snapshot %s: %w", d.snapPath, err)
				}
				objects[res][res.key(obj.GetNamespace(), obj.GetName())] = obj
			}
		}
		rv = snap.ResourceVersion
	}

	data, err = os.ReadFile(d.walPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return rv, -1, nil
	case err != nil:
		return 0, -1, fmt.Errorf("read write-ahead log: %w", err)
	}
	tornAt = -1
	for off := 0; off < len(data); {
		line, rest, complete := bytes.Cut(data[off:], []byte("\n"))
		rec, err := parseRecord(line, complete)
		if err != nil {
			// Only the last record can be one whose write was never
			// answered (each is fsynced before the next is written): cut
			// it off, as etcd's wal.Repair does. Anything before is damage.
			if len(bytes.Trim(rest, "\x00")) == 0 {
				tornAt = int64(off)
				break
			}
			return 0, -1, fmt.Errorf("write-ahead log %s: record at byte %d: %w", d.walPath, off, err)
		}
		off += len(line) + 1
		if rec.RV <= rv {
			continue // already in the snapshot: a compaction ended before the log was emptied
		}
		if rec.RV != rv+1 {
			return 0, -1, fmt.Errorf("write-ahead log %s: record at byte %d has resource version %d after %d", d.walPath, off-len(line)-1, rec.RV, rv)
		}
		res := byName[rec.Resource]
		if res == nil {
			return 0, -1, fmt.Errorf("write-ahead log %s: record at byte %d: unknown resource %q", d.walPath, off-len(line)-1, rec.Resource)
		}
		obj, err := decode(res, rec.Object)
		if err != nil {
			return 0, -1, fmt.Errorf("write-ahead log %s: record at byte %d: %w", d.walPath, off-len(line)-1, err)
		}
		key := res.key(obj.GetNamespace(), obj.GetName())
		if rec.Type == watch.Deleted {
			delete(objects[res], key)
		} else {
			objects[res][key] = obj
		}
		rv = rec.RV
	}
	if tornAt >= 0 {
		if err := truncateSync(d.walPath, tornAt); err != nil {
			return 0, -1, fmt.Errorf("cut the torn last record of %s: %w", d.walPath, err)
		}
		d.walBytes = tornAt
	} else {
		d.walBytes = int64(len(data))
	}
	return rv, tornAt, nil
}

// parseRecord checks a line's checksum and decodes it.
func parseRecord(line []byte, complete bool) (walRecord, error) {
	var rec walRecord
	if !complete {
		return rec, errors.New("no end of line")
	}
	sum, payload, ok := bytes.Cut(line, []byte(" "))
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if !ok || err != nil {
		return rec, errors.New("no checksum")
	}
	if got := crc32.Checksum(payload, crcTable); got != uint32(want) {
		return rec, fmt.Errorf("checksum %08x, want %08x", got, want)
	}
	if err := json.Unmarshal(payload, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// append writes one change to the log and fsyncs it; on failure the log is
// cut back to where it was, so that an unanswered change does not come back.
func (d *disk) append(rv uint64, res *Resource, typ watch.EventType, obj Object) error {
	if d.broken != nil {
		return d.broken
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	payload, err := json.Marshal(walRecord{RV: rv, Resource: res.gr.Resource, Type: typ, Object: raw})
	if err != nil {
		return err
	}
	line := fmt.Appendf(nil, "%08x %s\n", crc32.Checksum(payload, crcTable), payload)
	created := d.walBytes == 0
	f, err := os.OpenFile(d.walPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(line)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && created {
		// A new file's name is durable only once its directory is.
		err = syncDir(d.dir)
	}
	if err != nil {
		if terr := truncateSync(d.walPath, d.walBytes); terr != nil {
			d.broken = fmt.Errorf("write-ahead log %s: a refused record could not be cut off: %w", d.walPath, terr)
			return errors.Join(err, d.broken)
		}
		return err
	}
	d.walBytes += int64(len(line))
	return nil
}

// shouldCompact reports whether the log has outgrown the snapshot.
func (d *disk) shouldCompact() bool {
	return d.walBytes >= max(d.snapBytes, d.floor)
}

// compact writes every object to a new snapshot — a temporary file,
// fsynced, renamed over the old one, the directory fsynced — and then
// empties the log. A crash in between leaves records the snapshot already
// has, which load skips.
func (d *disk) compact(rv uint64, resources []*Resource, objects map[*Resource]map[string]Object) error {
	snap := snapshot{ResourceVersion: rv, Objects: map[string][]json.RawMessage{}}
	for _, res := range resources {
		keys := make([]string, 0, len(objects[res]))
		for k := range objects[res] {
			keys = append(keys, k)
		}
		sort.Strings(keys) // a stable file
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
	tmp, err := os.CreateTemp(d.dir, ".snapshot-*.json")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), d.snapPath)
	}
	if err == nil {
		err = syncDir(d.dir)
	}
	if err != nil {
		return fmt.Errorf("write snapshot: %w", err)
	}
	d.snapBytes = int64(len(data))
	if err := truncateSync(d.walPath, 0); err != nil {
		return fmt.Errorf("empty the write-ahead log: %w", err)
	}
	d.walBytes = 0
	return nil
}

// truncateSync cuts the file at path to size and fsyncs it.
func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir fsyncs a directory, which makes the names created, renamed or
// removed in it durable (etcd's fileutil.Fsync of the WAL directory).
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
