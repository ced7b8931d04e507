package apiserver

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRestart stops a server and starts another on the same data
// directory: objects, UIDs and resource versions survive, and a watch
// from before the restart must relist.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first := startServer(t, Options{DataDir: dir})
	pod := first.createRunningPod(t, "default", "keep", "node-1", "main")
	gone := first.createRunningPod(t, "default", "gone", "node-1", "main")
	if err := first.client.CoreV1().Pods("default").Delete(ctx, "gone", *metav1.NewDeleteOptions(0)); err != nil {
		t.Fatal(err)
	}
	rv := first.store.ResourceVersion()
	if _, err := os.Stat(filepath.Join(dir, "wal.log")); err != nil {
		t.Fatal(err)
	}

	second := startServer(t, Options{DataDir: dir})
	got, err := second.client.CoreV1().Pods("default").Get(ctx, "keep", metav1.GetOptions{})
	if err != nil || got.UID != pod.UID || got.ResourceVersion != pod.ResourceVersion || got.Status.Phase != corev1.PodRunning {
		t.Fatalf("after restart: %v %+v", err, got)
	}
	if _, err := second.client.CoreV1().Pods("default").Get(ctx, gone.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleted pod is back: %v", err)
	}
	if second.store.ResourceVersion() != rv {
		t.Errorf("resource version %d after restart, was %d", second.store.ResourceVersion(), rv)
	}
	// The next change continues the counter.
	ns, err := second.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "later"}}, metav1.CreateOptions{})
	if err != nil || ns.ResourceVersion != strconv.FormatUint(rv+1, 10) {
		t.Errorf("first resource version after restart %s, want %d: %v", ns.ResourceVersion, rv+1, err)
	}
	events, stop := watchEvents(t, second, "/api/v1/pods?watch=true&resourceVersion="+pod.ResourceVersion, nil)
	defer stop()
	if typ, _, _, obj := next(t, events); typ != "ERROR" || obj["code"] != float64(410) {
		t.Errorf("watch from before the restart: %s %v", typ, obj)
	}
}

func TestCorruptSnapshot(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "snapshot.json"), []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || err.Error() != "decode snapshot "+filepath.Join(dir, "snapshot.json")+": invalid character 'n' looking for beginning of object key string" {
		t.Errorf("New: %v", err)
	}
}

// TestPersistFailure: a change that cannot be written is not made.
func TestPersistFailure(t *testing.T) {
	dir := t.TempDir()
	ts := startServer(t, Options{DataDir: dir})
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	if f, err := os.CreateTemp(dir, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skip("the data directory stays writable (running as root)")
	}
	_, err := ts.client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{})
	if !apierrors.IsInternalError(err) {
		t.Errorf("create: %v", err)
	}
	if _, err := ts.client.CoreV1().Namespaces().Get(context.Background(), "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("unwritten namespace exists: %v", err)
	}
}

// TestListenAndServe runs the server as the command does.
func TestListenAndServe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv, err := New(Options{BindAddress: "127.0.0.1", SecurePort: port, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx) }()
	ts := &testServer{Server: srv, url: "http://127.0.0.1:" + strconv.Itoa(port)}
	waitFor(t, func() bool {
		c, err := net.Dial("tcp", ts.url[len("http://"):])
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if code, _, body := ts.do(t, "GET", "/readyz", nil, ""); code != 200 || body != "ok" {
		t.Errorf("readyz: %d %q", code, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ListenAndServe: %v", err)
	}
	if _, err := New(Options{StreamingMode: "sideways"}); err == nil || err.Error() != `unknown streaming mode "sideways": want "translate", "passthrough" or "per-node"` {
		t.Errorf("bad mode: %v", err)
	}
}
