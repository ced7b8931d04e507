package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestGetPods(t *testing.T) {
	r := kubectlLatest.run(t, shared, nil, "get", "pods")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if !regexp.MustCompile(`^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$`).MatchString(lines[0]) {
		t.Errorf("header %q", lines[0])
	}
	demo := regexp.MustCompile(`(?m)^demo\s+1/1\s+Running\s+0\s+\d+s$`)
	if !demo.MatchString(r.stdout) {
		t.Errorf("no `demo 1/1 Running 0 <age>` line in:\n%s", r.stdout)
	}
}

// TestApplyExecDelete applies a new pod from a file, execs into it, deletes it
// and checks that its process is gone.
func TestApplyExecDelete(t *testing.T) {
	const marker = "7345123"
	manifest := filepath.Join(t.TempDir(), "pod.yaml")
	os.WriteFile(manifest, []byte(`apiVersion: v1
kind: Pod
metadata:
  name: applied
spec:
  containers:
  - name: app
    image: busybox
    imagePullPolicy: IfNotPresent
    command: ["sleep", "`+marker+`"]
`), 0o644)
	k := kubectlLatest
	if r := k.run(t, shared, nil, "apply", "-f", manifest); r.code != 0 || r.stdout != "pod/applied created\n" {
		t.Fatalf("apply: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := k.run(t, shared, nil, "wait", "--for=condition=Ready", "pod/applied", "--timeout=30s"); r.code != 0 {
		t.Fatalf("wait: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := k.run(t, shared, nil, "exec", "applied", "--", "echo", "inside"); r.code != 0 || r.stdout != "inside\n" {
		t.Fatalf("exec: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if len(processesWith("sleep "+marker)) != 1 {
		t.Fatalf("want exactly one `sleep %s` process before delete, have %v", marker, processesWith("sleep "+marker))
	}
	if r := k.run(t, shared, nil, "delete", "pod", "applied"); r.code != 0 || r.stdout != "pod \"applied\" deleted\n" {
		t.Fatalf("delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// kubectl delete waits for the object to go, which the kubelet allows
	// only after stopping the containers.
	if ps := processesWith("sleep " + marker); len(ps) != 0 {
		time.Sleep(time.Second)
		t.Fatalf("processes left after delete: %v", processesWith("sleep "+marker))
	}
}

// processesWith lists the PIDs whose command line contains s.
func processesWith(s string) []string {
	var pids []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if strings.Contains(strings.ReplaceAll(string(cmdline), "\x00", " "), s) {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

// processesUsing lists the PIDs that name dir on their command line or run
// with a working directory inside it: the components of a stack whose state
// is in dir, and the containers of its runtime.
func processesUsing(dir string) []string {
	pids := processesWith(dir)
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && strings.HasPrefix(cwd, dir+"/") {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
