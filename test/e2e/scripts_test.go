package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/internal/testutil"
)

// TestUpDown runs scripts/up.sh twice and scripts/down.sh as a person would,
// on ports and a state directory of its own. With containerd, up.sh
// --runtime containerd finds the suite's containerd running, so down.sh
// must remove the demo pod from it and leave it running.
func TestUpDown(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	env := append(os.Environ(),
		"EXECLAB_STATE="+state,
		"EXECLAB_APISERVER_PORT="+strconv.Itoa(testutil.FreePort(t)),
		"EXECLAB_KUBELET_PORT="+strconv.Itoa(testutil.FreePort(t)),
	)
	var upArgs []string
	components := []string{"apiserver", "cri", "kubelet"}
	if runtimeName == containerdRuntime {
		env = append(env, "EXECLAB_CONTAINERD_DIR="+filepath.Dir(strings.TrimPrefix(criEndpoint, "unix://")))
		upArgs = []string{"--runtime", "containerd"}
		components = []string{"apiserver", "kubelet"}
	}
	script := func(name string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(filepath.Join("..", "..", "scripts", name), args...)
		cmd.Env = env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, stderr.String())
		}
		return strings.TrimSpace(string(out)), stderr.String()
	}
	kubeconfig, _ := script("up.sh", upArgs...)
	if kubeconfig != filepath.Join(state, "kubeconfig") {
		t.Fatalf("up.sh printed %q, want the kubeconfig path", kubeconfig)
	}
	pids := readPIDs(t, state, components)
	t.Cleanup(func() {
		for _, pid := range pids {
			if p, err := os.FindProcess(pid); err == nil && processAlive(pid) {
				p.Kill()
			}
		}
	})

	mini := filepath.Join("..", "..", "bin", "mini-kubectl")
	out, err := exec.Command(mini, "--kubeconfig", kubeconfig, "exec", "demo", "--", "echo", "up").CombinedOutput()
	if err != nil || string(out) != "up\n" {
		t.Fatalf("exec after up.sh: %v, %q", err, out)
	}

	again, stderr := script("up.sh", upArgs...)
	if again != kubeconfig || !strings.Contains(stderr, "already running") {
		t.Errorf("second up.sh printed %q, stderr %q", again, stderr)
	}
	if now := readPIDs(t, state, components); !equalPIDs(now, pids) {
		t.Errorf("second up.sh changed the running components: %v, then %v", pids, now)
	}
	statusAndReset(t, env, kubeconfig, pids)

	demoUID := podUID(t, kubeconfig, "demo")
	script("down.sh")
	for name, pid := range pids {
		if processAlive(pid) {
			t.Errorf("%s (pid %d) still running after down.sh", name, pid)
		}
	}
	if left := processesUsing(state); len(left) != 0 {
		t.Errorf("processes still using %s after down.sh: %v", state, left)
	}
	if _, err := os.Stat(kubeconfig); err != nil {
		t.Errorf("down.sh removed the kubeconfig: %v", err)
	}
	if runtimeName == containerdRuntime {
		rs := criClientFor(t, criEndpoint)
		sandboxes, err := rs.ListPodSandbox(context.Background(), &runtimeapi.ListPodSandboxRequest{Filter: &runtimeapi.PodSandboxFilter{
			LabelSelector: map[string]string{"io.kubernetes.pod.uid": demoUID},
		}})
		if err != nil || len(sandboxes.Items) != 0 {
			t.Errorf("after down.sh containerd answers %v with the demo pod's sandboxes %v; want it running, without them", err, sandboxes.GetItems())
		}
	}
}

// statusAndReset checks `execlab status` (the components, the pods, the
// sessions open) and `execlab reset` (every pod gone but the demo pod,
// which is created again if it is gone) on the stack up.sh started.
func statusAndReset(t *testing.T, env []string, kubeconfig string, pids map[string]int) {
	t.Helper()
	execlab := func(command string) string {
		t.Helper()
		cmd := exec.Command(filepath.Join("..", "..", "bin", "execlab"), command)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("execlab %s: %v\n%s", command, err, out)
		}
		return string(out)
	}
	sessionsOpen := func(n int) string {
		return fmt.Sprintf("\nsessions open: %d\n", n)
	}
	status := execlab("status")
	for name, pid := range pids {
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^%s +%d +\S+ +running$`, name, pid)).MatchString(status) {
			t.Errorf("execlab status shows no running %s of pid %d:\n%s", name, pid, status)
		}
	}
	if !regexp.MustCompile(`(?m)^default +demo +Running +node-1$`).MatchString(status) || !strings.HasSuffix(status, sessionsOpen(0)) {
		t.Errorf("execlab status:\n%s", status)
	}
	sleep := exec.Command(filepath.Join("..", "..", "bin", "mini-kubectl"), "--kubeconfig", kubeconfig, "exec", "demo", "--", "sleep", "987300")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(20*time.Second, func() bool { return len(processesRunning("sleep", "987300")) == 1 }) {
		t.Fatal("the exec's sleep never started")
	}
	open := regexp.MustCompile(`\nsessions open: 1\nKIND +POD +COMMAND +FOR +BYTES IN/OUT +TRACE\nexec +default/demo +sleep 987300 +[0-9]+s +[0-9]+/[0-9]+ +[0-9a-f]{32}\n$`)
	if status := execlab("status"); !open.MatchString(status) {
		t.Errorf("execlab status with an exec running:\n%s", status)
	}
	sleep.Process.Kill()
	sleep.Wait()
	orphanEnds(t, "the exec's sleep", []string{"sleep", "987300"})

	client := clientFor(t, kubeconfig)
	ctx := context.Background()
	extra := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "extra", Namespace: "kube-system"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "c", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, Command: []string{"sleep", "1000000"},
		}}},
	}
	if _, err := client.CoreV1().Pods("kube-system").Create(ctx, extra, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	demoUID := podUID(t, kubeconfig, "demo")
	if out := execlab("reset"); out != "pod/extra deleted (namespace kube-system)\npod/demo unchanged\n" {
		t.Errorf("execlab reset with an extra pod:\n%s", out)
	}
	pods, err := client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 1 || string(pods.Items[0].UID) != demoUID {
		t.Fatalf("after execlab reset: %v, pods %v; want the demo pod alone", err, pods)
	}
	grace := int64(1)
	if err := client.CoreV1().Pods("default").Delete(ctx, "demo", metav1.DeleteOptions{GracePeriodSeconds: &grace}); err != nil {
		t.Fatal(err)
	}
	if !waitUntil(time.Minute, func() bool {
		_, err := client.CoreV1().Pods("default").Get(ctx, "demo", metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	}) {
		t.Fatal("the demo pod was never deleted")
	}
	if out := execlab("reset"); out != "pod/demo created\n" {
		t.Errorf("execlab reset without the demo pod:\n%s", out)
	}
	out, err := exec.Command(filepath.Join("..", "..", "bin", "mini-kubectl"), "--kubeconfig", kubeconfig, "exec", "demo", "--", "echo", "reset").CombinedOutput()
	if err != nil || string(out) != "reset\n" {
		t.Errorf("exec after execlab reset: %v, %q", err, out)
	}
}

// podUID reads a pod's UID in namespace default through kubeconfig.
func podUID(t *testing.T, kubeconfig, name string) string {
	t.Helper()
	pod, err := clientFor(t, kubeconfig).CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return string(pod.UID)
}

// clientFor is a clientset for kubeconfig.
func clientFor(t *testing.T, kubeconfig string) kubernetes.Interface {
	t.Helper()
	config, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(config)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

func readPIDs(t *testing.T, state string, components []string) map[string]int {
	t.Helper()
	pids := map[string]int{}
	for _, name := range components {
		b, err := os.ReadFile(filepath.Join(state, "pids", name+".pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		pids[name] = pid
	}
	return pids
}

func equalPIDs(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func processAlive(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	// A zombie still has /proc/PID until reaped; it runs nothing.
	return err == nil && !strings.Contains(string(stat), ") Z ")
}
