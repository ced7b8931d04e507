package e2e

import (
	"context"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestAttach attaches to a container whose main process is an interactive
// shell on a TTY, types into it, resizes, then leaves with the container
// still running, as a person closing kubectl attach would.
func TestAttach(t *testing.T) {
	for _, mode := range streamingModes(t) {
		t.Run(mode.name, func(t *testing.T) {
			createPod(t, mode.stack, &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "shell"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "sh", Image: "busybox", Command: []string{"sh"}, Stdin: true, TTY: true,
				}}},
			})
			for _, c := range []client{kubectlLatest, kubectl128, miniWS, miniSPDY} {
				t.Run(c.name, func(t *testing.T) {
					attachAndDetach(t, mode.stack, c)
				})
			}
		})
	}
}

// attachAndDetach types into the shell pod through c's attach -it, resizes,
// detaches, and checks that the container still runs.
func attachAndDetach(t *testing.T, s *execlabtest.Stack, c client) {
	term := c.runTerminal(t, s, 24, 80, "attach", "-it", "shell")
	term.until("echo attached-$((6*7))\n", "attached-42")
	term.until("stty size\n", "24 80")
	term.resize(40, 100)
	term.until("stty size\n", "40 100")
	// kubectl attach has no detach keys: closing the client detaches.
	term.cmd.Process.Signal(syscall.SIGTERM)
	term.wait()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := s.Client().CoreV1().Pods("default").Get(ctx, "shell", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Status.Phase != corev1.PodRunning || len(p.Status.ContainerStatuses) != 1 ||
		p.Status.ContainerStatuses[0].State.Running == nil || p.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Fatalf("after detach the pod is %s with %+v", p.Status.Phase, p.Status.ContainerStatuses)
	}
}
