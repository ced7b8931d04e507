package testutil

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package puts the browser; `make
// test` installs it.
const Chromium = "/usr/bin/chromium"

// Browser starts a headless Chromium for the test and returns a context
// to drive it with chromedp, good for two minutes; the browser closes when
// the test ends. The flags are
// those that let Chromium run as root on a machine without a network, and
// trust the stack's self-signed certificates.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path := Chromium
	if _, err := os.Stat(path); err != nil {
		if path, err = exec.LookPath("chromium"); err != nil {
			t.Fatalf("no Chromium at %s or on PATH: `make test` installs Debian's chromium package", Chromium)
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1500, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// The first run starts the browser, which lives as long as its context:
	// no timeout on that one (chromedp.Run), only on what follows.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(browser, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// Artifact writes data as a test artefact, under $EXECLAB_ARTIFACTS or
// else _artifacts/ at the repository's root, and returns its path.
func Artifact(t testing.TB, name string, data []byte) string {
	t.Helper()
	dir := os.Getenv("EXECLAB_ARTIFACTS")
	if dir == "" {
		root, err := repoRoot()
		if err != nil {
			t.Fatal(err)
		}
		dir = filepath.Join(root, "_artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artefact: %s", path)
	return path
}

// repoRoot is the directory of go.mod above the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// WaitText waits until the text of the element sel in the page contains
// want, for up to 20 s, and fails the test with what it shows otherwise.
func WaitText(t testing.TB, ctx context.Context, sel, want string) {
	t.Helper()
	var got string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector(`+"`"+sel+"`"+`) || {}).textContent || ""`))
		if err == nil && strings.Contains(text, want) {
			return
		}
		got = text
	}
	t.Fatalf("%s shows %q, want %q", sel, got, want)
}

// Click clicks the element sel once it is in the page, waiting up to 20 s.
// It finds and clicks in one step in the page: a page that redraws (the
// live view does, every second) replaces its nodes, so a node chromedp
// found a moment before may be gone by the time it clicks it.
func Click(t testing.TB, ctx context.Context, sel string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		clicked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.querySelector(`+"`"+sel+"`"+`); if (!e) return false; e.click(); return true })()`))
		if err == nil && clicked {
			return
		}
	}
	t.Fatalf("%s never showed to be clicked", sel)
}
