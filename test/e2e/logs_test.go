package e2e

import (
	"context"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/internal/testutil"
)

func TestLogs(t *testing.T) {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ticker"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "tick", Image: "busybox",
			Command: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo tick $i; sleep 0.2; done"},
		}}},
	}
	createPod(t, shared, pod)
	for _, c := range []client{kubectlLatest, kubectl128, miniSPDY} {
		t.Run(c.name, func(t *testing.T) {
			if r := c.run(t, shared, nil, "logs", "demo"); r.code != 0 || r.stdout != "demo started\n" {
				t.Errorf("logs demo: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			r := c.run(t, shared, nil, "logs", "demo", "--timestamps")
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z demo started\n$`).MatchString(r.stdout) {
				t.Errorf("logs --timestamps: %q", r.stdout)
			}
			time.Sleep(time.Second) // at least 5 ticks
			r = c.run(t, shared, nil, "logs", "ticker", "--tail=3")
			lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
			if len(lines) != 3 || !consecutiveTicks(lines) {
				t.Errorf("logs --tail=3: %q", r.stdout)
			}
			testLogsFollow(t, c)
		})
	}
}

// testLogsFollow follows the ticker, sees new lines arrive, then stops the
// client with Ctrl-C.
func testLogsFollow(t *testing.T, c client) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := c.command(ctx, t, shared, "logs", "-f", "ticker", "--tail=1")
	var out testutil.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := -1
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if n := tickNumber(lines[0]); first < 0 && n > 0 {
			first = n
		}
		if first > 0 && tickNumber(lines[len(lines)-1]) >= first+3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs -f showed no new lines: %q", out.String())
		}
	}
	cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("logs -f did not stop on Ctrl-C")
	}
}

func tickNumber(line string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(line, "tick "))
	if err != nil {
		return -1
	}
	return n
}

func consecutiveTicks(lines []string) bool {
	for i := 1; i < len(lines); i++ {
		if tickNumber(lines[i]) != tickNumber(lines[i-1])+1 || tickNumber(lines[i-1]) < 0 {
			return false
		}
	}
	return true
}
