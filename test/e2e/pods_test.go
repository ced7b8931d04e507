package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
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
	demo := regexp.MustCompile(`(?m)^demo\s+1/1\s+Running\s+0\s+[0-9smh]+$`)
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
	pod, err := shared.Client().CoreV1().Pods("default").Get(context.Background(), "applied", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// sleep as PID 1 of its own PID namespace (containerd) ignores SIGTERM:
	// a short grace period keeps the wait for its SIGKILL short.
	if r := k.run(t, shared, nil, "delete", "pod", "applied", "--grace-period=1"); r.code != 0 || r.stdout != "pod \"applied\" deleted\n" {
		t.Fatalf("delete: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	// kubectl delete waits for the object to go, which the kubelet allows
	// only after stopping the containers and removing them and the sandbox
	// from the runtime. Container processes are host processes with either
	// runtime.
	if ps := processesWith("sleep " + marker); len(ps) != 0 {
		time.Sleep(time.Second)
		t.Fatalf("processes left after delete: %v", processesWith("sleep "+marker))
	}
	rs := criClient(t)
	uid := map[string]string{"io.kubernetes.pod.uid": string(pod.UID)}
	sandboxes, err := rs.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{LabelSelector: uid}})
	if err != nil || len(sandboxes.Items) != 0 {
		t.Errorf("sandboxes left in the runtime after delete: %v, %v", sandboxes.GetItems(), err)
	}
	containers, err := rs.ListContainers(context.Background(), &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{LabelSelector: uid}})
	if err != nil || len(containers.Containers) != 0 {
		t.Errorf("containers left in the runtime after delete: %v, %v", containers.GetContainers(), err)
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
