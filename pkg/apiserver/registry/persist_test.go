package registry

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// openWith opens a store on dir and creates the namespaces named.
func openWith(t *testing.T, dir string, names ...string) *Store {
	t.Helper()
	st, err := Open(dir, discard, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := st.insert(Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

func namespaceNames(st *Store) []string {
	objs, _ := st.List(Namespaces, "", nil)
	var names []string
	for _, o := range objs {
		names = append(names, o.GetName())
	}
	return names
}

// TestTornLastRecord: a last record cut short (a write never answered) is
// cut off at start-up, and the log goes on from there.
func TestTornLastRecord(t *testing.T) {
	dir := t.TempDir()
	st := openWith(t, dir, "a", "b")
	rv := st.ResourceVersion()
	wal := filepath.Join(dir, "wal.log")
	good, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	for name, tail := range map[string][]byte{
		"half a line":         []byte(`1234abcd {"rv":`),
		"bad checksum":        []byte("00000000 {}\n"),
		"zeros after a crash": make([]byte, 100),
	} {
		if err := os.WriteFile(wal, append(bytes.Clone(good), tail...), 0o644); err != nil {
			t.Fatal(err)
		}
		st := openWith(t, dir)
		if got := st.ResourceVersion(); got != rv {
			t.Errorf("%s: resource version %d, want %d", name, got, rv)
		}
		if data, _ := os.ReadFile(wal); !bytes.Equal(data, good) {
			t.Errorf("%s: the log after start-up is %q, want the good records alone", name, data)
		}
	}
	st = openWith(t, dir, "c")
	st = openWith(t, dir)
	if got, want := fmt.Sprint(namespaceNames(st)), "[a b c default kube-node-lease kube-public kube-system]"; got != want {
		t.Errorf("namespaces %s, want %s", got, want)
	}
}

// TestDamagedStore: a store that cannot be read is an error at start-up,
// never an empty store.
func TestDamagedStore(t *testing.T) {
	dir := t.TempDir()
	openWith(t, dir, "a", "b")
	wal := filepath.Join(dir, "wal.log")
	good, err := os.ReadFile(wal)
	if err != nil {
		t.Fatal(err)
	}
	first := bytes.IndexByte(good, '\n') + 1
	damaged := bytes.Clone(good)
	damaged[first+20] ^= 1 // the second record; good ones follow
	if err := os.WriteFile(wal, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, discard, nil)
	if err == nil || !bytes.HasPrefix([]byte(err.Error()), fmt.Appendf(nil, "write-ahead log %s: record at byte %d: checksum ", wal, first)) {
		t.Errorf("Open with a damaged record: %v", err)
	}
	// A record missing from the middle.
	if err := os.WriteFile(wal, good[first:], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = Open(dir, discard, nil); err == nil || err.Error() != fmt.Sprintf("write-ahead log %s: record at byte 0 has resource version 2 after 0", wal) {
		t.Errorf("Open with a record missing: %v", err)
	}
	if err := os.WriteFile(wal, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "snapshot.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err = Open(dir, discard, nil); err == nil || err.Error() != "decode snapshot "+filepath.Join(dir, "snapshot.json")+": invalid character 'n' looking for beginning of object key string" {
		t.Errorf("Open with a damaged snapshot: %v", err)
	}
}

// TestCompaction: the log is folded into the snapshot once it outgrows it;
// a crash between the two (the snapshot written, the log not yet emptied)
// loses and repeats nothing.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	st := openWith(t, dir)
	st.disk.floor = 4096
	wal := filepath.Join(dir, "wal.log")
	var before []byte
	for i := 0; ; i++ {
		data, err := os.ReadFile(wal)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) < len(before) {
			break // compacted by the last insert
		}
		before = data
		if _, err := st.insert(Namespaces, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ns-%03d", i)}}); err != nil {
			t.Fatal(err)
		}
	}
	want := fmt.Sprint(namespaceNames(st))
	rv := st.ResourceVersion()
	if data, _ := os.ReadFile(wal); len(data) != 0 {
		t.Errorf("log after compaction: %d bytes", len(data))
	}
	if got := fmt.Sprint(namespaceNames(openWith(t, dir))); got != want {
		t.Errorf("after compaction: %s, want %s", got, want)
	}
	// The log as it was before the last insert: records the snapshot has.
	if err := os.WriteFile(wal, before, 0o644); err != nil {
		t.Fatal(err)
	}
	again := openWith(t, dir)
	if got := fmt.Sprint(namespaceNames(again)); got != want || again.ResourceVersion() != rv {
		t.Errorf("with the log not yet emptied: %s at %d, want %s at %d", got, again.ResourceVersion(), want, rv)
	}
}
