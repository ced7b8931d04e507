package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/internal/testutil"
	"github.com/execlab/execlab/pkg/execlabtest"
)

// busybox404 is what busybox's httpd answers for a path it has no file for,
// "/" included when there is no index.html: the busybox image has none, and
// neither has the host whose root a container on the fake sees.
const busybox404 = "<HTML><HEAD><TITLE>404 Not Found</TITLE></HEAD>\n<BODY><H1>404 Not Found</H1>\nThe requested URL was not found\n</BODY></HTML>\n"

// TestBusyboxPods: pod manifests written for a real cluster, `image:
// busybox` with no command, `top` with and without a terminal, `httpd -f -p
// PORT`, behave on the runtime under test as on containerd. Every row holds
// on both (make test-containerd runs them there); the outputs are
// containerd's, measured with its busybox image, a busybox-static rootfs
// (scripts/containerd.sh).
func TestBusyboxPods(t *testing.T) {
	t.Parallel()
	s := shared
	port := testutil.FreePort(t)
	for _, tc := range []struct {
		name      string
		container corev1.Container
		never     bool // restartPolicy: Never
		// check runs once the pod is as done says.
		done  func(*corev1.Pod) bool
		check func(t *testing.T, pod *corev1.Pod)
	}{{
		// Busybox's command is sh, which, with no terminal and stdin at
		// /dev/null, reads EOF and exits 0 at once.
		name:      "no command",
		container: corev1.Container{Image: "busybox"},
		never:     true,
		done: func(p *corev1.Pod) bool {
			return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
		},
		check: func(t *testing.T, pod *corev1.Pod) {
			term := terminated(pod)
			if pod.Status.Phase != corev1.PodSucceeded || term == nil || term.ExitCode != 0 || term.Reason != "Completed" {
				t.Errorf("phase %s, terminated %+v; want Succeeded, exit 0, Completed", pod.Status.Phase, term)
			}
			if got := podLogs(t, s, pod); got != "" {
				t.Errorf("logs %q; want none", got)
			}
		},
	}, {
		// As `kubectl run -it --image=busybox`: sh on a terminal, waiting
		// for input. Its banner is in the log; its prompt, "/ # ", is not,
		// having no newline yet.
		name:      "no command, stdin and tty",
		container: corev1.Container{Image: "busybox", Stdin: true, TTY: true},
		done:      running,
		check: func(t *testing.T, pod *corev1.Pod) {
			want := "\n\n" + busyboxVersion(t) + " built-in shell (ash)\nEnter 'help' for a list of built-in commands.\n\n"
			if got := waitLogs(t, s, pod, "Enter 'help'"); got != want {
				t.Errorf("logs %q; want %q", got, want)
			}
			if r := kubectlLatest.run(t, s, nil, "exec", pod.Name, "--", "echo", "in busybox"); r.code != 0 || r.stdout != "in busybox\n" {
				t.Errorf("exec: exit %d, %q %q", r.code, r.stdout, r.stderr)
			}
		},
	}, {
		// Busybox's top runs without a terminal too, redrawing the
		// screen (home, clear) every 5 s, where procps' exits at once.
		name:      "top",
		container: corev1.Container{Image: "busybox", Command: []string{"top"}},
		done:      running,
		check: func(t *testing.T, pod *corev1.Pod) {
			if got := waitLogs(t, s, pod, "Mem: "); !strings.HasPrefix(got, "\x1b[H\x1b[JMem: ") || !strings.Contains(got, "  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND") {
				t.Errorf("logs %q; want busybox top's screen", got)
			}
		},
	}, {
		name:      "top, tty",
		container: corev1.Container{Image: "busybox", Command: []string{"top"}, Stdin: true, TTY: true},
		done:      running,
		check: func(t *testing.T, pod *corev1.Pod) {
			if got := waitLogs(t, s, pod, "Mem: "); !strings.Contains(got, "\x1b[H\x1b[JMem: ") || !strings.Contains(got, "  PID  PPID USER     STAT   VSZ %VSZ %CPU COMMAND") {
				t.Errorf("logs %q; want busybox top's screen", got)
			}
		},
	}, {
		name:      "httpd",
		container: corev1.Container{Image: "busybox", Command: []string{"httpd", "-f", "-p", fmt.Sprint(port)}},
		done:      running,
		check: func(t *testing.T, pod *corev1.Pod) {
			local := kubectlPortForward(t, s, pod.Name, port)
			for _, path := range []string{"/", "/nosuch"} {
				status, contentType, body := httpGet(t, fmt.Sprintf("http://127.0.0.1:%d%s", local, path))
				if status != "404 Not Found" || contentType != "text/html" || body != busybox404 {
					t.Errorf("GET %s: %s, %s, %q; want busybox httpd's 404", path, status, contentType, body)
				}
			}
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.container.Name = "main"
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: "busybox-" + strings.NewReplacer(" ", "-", ",", "").Replace(tc.name)},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{tc.container}},
			}
			if tc.never {
				pod.Spec.RestartPolicy = corev1.RestartPolicyNever
			}
			tc.check(t, createPodUntil(t, s, pod, tc.done))
		})
	}
}

// busyboxVersion is "BusyBox v1.35.0 (Debian …)": the fake runs
// busybox-static's /bin/busybox, and containerd's busybox image is built
// from it.
func busyboxVersion(t *testing.T) string {
	t.Helper()
	first, _, _ := strings.Cut(onHost("/bin/busybox").stdout, "\n")
	version, ok := strings.CutSuffix(first, " multi-call binary.")
	if !ok {
		t.Fatalf("/bin/busybox printed %q first; want its version", first)
	}
	return version
}

func running(p *corev1.Pod) bool {
	st := p.Status.ContainerStatuses
	return len(st) == 1 && st[0].State.Running != nil
}

func terminated(p *corev1.Pod) *corev1.ContainerStateTerminated {
	if st := p.Status.ContainerStatuses; len(st) == 1 {
		return st[0].State.Terminated
	}
	return nil
}

func podLogs(t *testing.T, s *execlabtest.Stack, pod *corev1.Pod) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	got, err := s.Client().CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{}).DoRaw(ctx)
	if err != nil {
		t.Fatalf("logs of %s: %v", pod.Name, err)
	}
	return string(got)
}

// waitLogs waits until the pod's log has want in it, for 20 s at most, and
// returns the log.
func waitLogs(t *testing.T, s *execlabtest.Stack, pod *corev1.Pod, want string) string {
	t.Helper()
	var got string
	waitUntil(20*time.Second, func() bool {
		got = podLogs(t, s, pod)
		return strings.Contains(got, want)
	})
	return got
}

// kubectlPortForward runs kubectl port-forward to the pod's port until the
// test ends, and returns the local port.
func kubectlPortForward(t *testing.T, s *execlabtest.Stack, pod string, port int) int {
	t.Helper()
	local := testutil.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := kubectlLatest.command(ctx, t, s, "port-forward", "pod/"+pod, fmt.Sprintf("%d:%d", local, port))
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
		cancel()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if want := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> %d\n", local, port); line != want {
		t.Fatalf("port-forward printed %q (%v), want %q; stderr: %s", line, err, want, stderr.String())
	}
	return local
}

func httpGet(t *testing.T, url string) (status, contentType, body string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.Status, resp.Header.Get("Content-Type"), string(b)
}
