package demostack

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// labRoot is a repository with two labs and no stack.
func labRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, LabsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"01-first.md":  "# Lab 1: The first\n\n```console\n$ echo hi\nhi\n```\n",
		"02-second.md": "# A second, untitled as such\n<!-- lab: needs=containerd -->\n",
		"README.md":    "# Not a lab\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCommands(t *testing.T) {
	root := labRoot(t)
	t.Setenv("EXECLAB_STATE", t.TempDir())
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Main(context.Background(), root, args, &out, &errOut)
		return out.String(), err
	}
	if out, err := run("lab"); err != nil || out != " 1  The first\n 2  A second, untitled as such\n" {
		t.Errorf("lab: %q, %v", out, err)
	}
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{nil, "no command"},
		{[]string{"frob"}, `unknown command "frob"`},
		{[]string{"status", "extra"}, `unexpected arguments ["extra"]`},
		{[]string{"status", "--runtime", "fake"}, "flag provided but not defined: -runtime"},
		{[]string{"lab", "two"}, `lab "two": want a lab's number`},
		{[]string{"lab", "7"}, "no lab 7 in docs/labs"},
		{[]string{"env"}, "execlab is not running"},
		{[]string{"up", "--runtime", "podman"}, `unknown runtime "podman"`},
	} {
		if _, err := run(tc.args...); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: %v, want %q", tc.args, err, tc.err)
		}
	}
	// A lab that needs what the machine lacks says so before anything starts.
	if len(Available()) == 0 {
		if _, err := run("lab", "2"); err == nil || !strings.Contains(err.Error(), "lab 2 needs containerd") {
			t.Errorf("lab 2: %v", err)
		}
	}
	t.Setenv("EXECLAB_APISERVER_PORT", "70000")
	if _, err := run("status"); err == nil || !strings.Contains(err.Error(), "want a port number") {
		t.Errorf("a bad port: %v", err)
	}
}

// TestShellQuote: what PrintEnv quotes, a shell reads back as it was.
func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "/with space/", `it's "quoted" $HOME \n`} {
		out, err := exec.Command("bash", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("shellQuote(%q) = %s reads back as %q, %v", s, shellQuote(s), out, err)
		}
	}
}
