package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunRejectsBadFlags(t *testing.T) {
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	os.WriteFile(kubeconfig, []byte(`{"apiVersion":"v1","kind":"Config","clusters":[{"name":"c","cluster":{"server":"http://127.0.0.1:1"}}],"contexts":[{"name":"c","context":{"cluster":"c"}}],"current-context":"c"}`), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "--kubeconfig, --container-runtime-endpoint and --root-dir are required"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"--kubeconfig", filepath.Join(t.TempDir(), "missing"), "--container-runtime-endpoint", "unix:///x.sock", "--root-dir", t.TempDir()}, "load kubeconfig"},
		{[]string{"--kubeconfig", kubeconfig, "--container-runtime-endpoint", "unix:///x.sock", "--root-dir", t.TempDir(), "--address", "localhost"}, `node IP "localhost" is not an IP address`},
		{[]string{"--kubeconfig", kubeconfig, "--container-runtime-endpoint", "unix:///x.sock", "--root-dir", t.TempDir(), "--port", "-1"}, "invalid port"},
		{[]string{"--kubeconfig", kubeconfig, "--container-runtime-endpoint", "unix:///x.sock", "--root-dir", t.TempDir(), "--config", "/nonexistent.yaml"}, "kubelet config: open /nonexistent.yaml: no such file or directory"},
	} {
		err := run(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tc.args, err, tc.want)
		}
	}
}
