package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, `fake-cri: --listen "": want unix:///absolute/path`},
		{[]string{"--listen", "tcp://127.0.0.1:1", "--root", "x"}, `fake-cri: --listen "tcp://127.0.0.1:1": want unix:///absolute/path`},
		{[]string{"--listen", "unix://relative.sock", "--root", "x"}, `fake-cri: --listen "unix://relative.sock": want unix:///absolute/path`},
		{[]string{"--listen", "unix:///tmp/x.sock"}, "fake-cri: --root is required"},
		{[]string{"--listen", "unix:///tmp/x.sock", "--root", "x", "extra"}, `fake-cri: unexpected arguments ["extra"]`},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stderr); code != 2 || !strings.HasPrefix(stderr.String(), tc.want+"\n") {
			t.Errorf("run(%q) = %d, stderr %q; want 2, %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

// TestRun checks that the flags reach fakecri.Serve, which TestServe in
// pkg/fakecri drives in full: on a context already ended, fake-cri starts,
// says where it serves, stops and exits 0; a server that cannot start exits 1.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	sock, root := filepath.Join(dir, "fake-cri.sock"), filepath.Join(dir, "root")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stderr bytes.Buffer
	args := []string{"--listen", "unix://" + sock, "--root", root, "--debug-address", "127.0.0.1:0"}
	if code := run(ctx, args, &stderr); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, stderr.String())
	}
	serving := regexp.MustCompile(`msg="fake-cri serving" socket=` + regexp.QuoteMeta(sock) + ` root=` + regexp.QuoteMeta(root) +
		` streaming=http://127\.0\.0\.1:\d+ debug=127\.0\.0\.1:0\n`)
	if !serving.MatchString(stderr.String()) || !strings.Contains(stderr.String(), `msg="fake-cri stopping"`) {
		t.Errorf("log:\n%s", stderr.String())
	}
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}

	stderr.Reset()
	args = []string{"--listen", "unix://" + sock, "--root", root, "--stream-address", "0.0.0.0:0"}
	if code := run(ctx, args, &stderr); code != 1 || !strings.Contains(stderr.String(), `msg="fake-cri failed" err="streaming server: `) {
		t.Errorf("non-loopback streaming address: exit code %d; log:\n%s", code, stderr.String())
	}

	// The image flags reach the runtime's Config.
	stderr.Reset()
	args = []string{"--listen", "unix://" + sock, "--root", root, "--unknown-images", "maybe", "--busybox", "/no/busybox", "--imagebin", "/no/imagebin"}
	if code := run(ctx, args, &stderr); code != 1 || !strings.Contains(stderr.String(), `err="fakecri: unknown images \"maybe\": want \"generic\" or \"not-found\""`) {
		t.Errorf("--unknown-images maybe: exit code %d; log:\n%s", code, stderr.String())
	}
	stderr.Reset()
	args = []string{"--listen", "unix://" + sock, "--root", root, "--unknown-images", "not-found", "--busybox", "/no/busybox", "--imagebin", "/no/imagebin"}
	if code := run(ctx, args, &stderr); code != 0 {
		t.Errorf("--unknown-images not-found: exit code %d; log:\n%s", code, stderr.String())
	}
}
