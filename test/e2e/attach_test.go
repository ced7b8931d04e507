package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestAttach attaches to a container whose main process is an interactive
// shell on a TTY, types into it, resizes, then leaves with the container
// still running, as a person closing kubectl attach would.
func TestAttach(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "shell"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "sh", Image: "busybox", Command: []string{"sh"}, Stdin: true, TTY: true,
		}}},
	}
	if _, err := shared.CreatePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	for _, c := range []client{kubectlLatest, kubectl128, miniWS, miniSPDY} {
		t.Run(c.name, func(t *testing.T) {
			term := c.runTerminal(t, shared, 24, 80, "attach", "-it", "shell")
			term.until("echo attached-$((6*7))\n", "attached-42")
			term.until("stty size\n", "24 80")
			term.resize(40, 100)
			term.until("stty size\n", "40 100")
			// kubectl attach has no detach keys: closing the client detaches.
			term.cmd.Process.Signal(syscall.SIGTERM)
			term.wait()
			p, err := shared.Client().CoreV1().Pods("default").Get(ctx, "shell", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 ||
				p.Status.ContainerStatuses[0].State.Running == nil || p.Status.ContainerStatuses[0].RestartCount != 0 {
				t.Fatalf("after detach the pod is %s with %+v", p.Status.Phase, p.Status.ContainerStatuses)
			}
		})
	}
}
