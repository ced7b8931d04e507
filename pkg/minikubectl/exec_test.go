package minikubectl

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	utilexec "k8s.io/utils/exec"
)

// demoContainer knows a few commands, enough to see what crosses the wire.
func demoContainer(cmd []string, s containerStreams) error {
	switch cmd[0] {
	case "echo":
		fmt.Fprintln(s.out, strings.Join(cmd[1:], " "))
	case "split": // split STDOUT STDERR CODE
		fmt.Fprintln(s.out, cmd[1])
		fmt.Fprintln(s.errOut, cmd[2])
		if code, _ := strconv.Atoi(cmd[3]); code != 0 {
			return utilexec.CodeExitError{Err: fmt.Errorf("exit status %d", code), Code: code}
		}
	case "cat":
		io.Copy(s.out, s.in)
	default:
		return fmt.Errorf("%s: not found", cmd[0])
	}
	return nil
}

const execPath = "/api/v1/namespaces/default/pods/demo/exec"

func TestExecStreamsAndExitCode(t *testing.T) {
	withGoroutineCheck(t)
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	api.useContainer(demoContainer)
	big := make([]byte, 1<<20)
	rand.Read(big)

	for _, tc := range []struct {
		protocol string
		call     string
	}{
		{"spdy", "POST " + execPath + "?command=split&command=out&command=err&command=3&container=main&stderr=true&stdout=true"},
		{"websocket", "GET " + execPath + "?command=split&command=out&command=err&command=3&container=main&stderr=true&stdout=true [v5.channel.k8s.io]"},
		// The WebSocket upgrade succeeds, so auto never falls back.
		{"auto", "GET " + execPath + "?command=split&command=out&command=err&command=3&container=main&stderr=true&stdout=true [v5.channel.k8s.io]"},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			api.resetCalls()
			r := api.run(nil, "--protocol", tc.protocol, "exec", "demo", "--", "split", "out", "err", "3")
			want := result{stdout: "out\n", stderr: "err\ncommand terminated with exit code 3\n", code: 3}
			if r != want {
				t.Errorf("got %+v, want %+v", r, want)
			}
			if calls := api.recorded(); len(calls) != 1 || calls[0] != tc.call {
				t.Errorf("requests %q, want [%q]", calls, tc.call)
			}

			if r := api.run(nil, "--protocol", tc.protocol, "exec", "demo", "--", "echo", "hello"); r != (result{stdout: "hello\n"}) {
				t.Errorf("echo: %+v", r)
			}
			r = api.run(bytes.NewReader(big), "--protocol", tc.protocol, "exec", "-i", "demo", "--", "cat")
			if r.code != 0 || r.stderr != "" || r.stdout != string(big) {
				t.Errorf("cat of 1 MiB: exit %d, stderr %q, %d bytes back", r.code, r.stderr, len(r.stdout))
			}
		})
	}
}

// TestExecRequest checks the exact upgrade request for a command line, and
// what mini-kubectl says when the server refuses it.
func TestExecRequest(t *testing.T) {
	api := newFakeAPI(t)
	api.addPod(runningPod("demo", "main"))
	other := runningPod("demo", "main", "side")
	other.Namespace = "other"
	api.addPod(other)
	refused := "error: unable to upgrade connection: pods/exec \"demo\" is forbidden: no upgrades here\n"

	for _, tc := range []struct {
		name   string
		args   []string
		call   string
		stderr string
	}{
		{
			name:   "command and arguments",
			args:   []string{"exec", "demo", "--", "ls", "-l", "/tmp dir"},
			call:   "POST " + execPath + "?command=ls&command=-l&command=%2Ftmp+dir&container=main&stderr=true&stdout=true",
			stderr: refused,
		},
		{
			name:   "namespace, container, stdin",
			args:   []string{"exec", "-n", "other", "pod/demo", "-c", "side", "-i", "--", "sh"},
			call:   "POST /api/v1/namespaces/other/pods/demo/exec?command=sh&container=side&stderr=true&stdin=true&stdout=true",
			stderr: refused,
		},
		{
			name:   "tty without a terminal",
			args:   []string{"exec", "-it", "demo", "--", "sh"},
			call:   "POST " + execPath + "?command=sh&container=main&stderr=true&stdin=true&stdout=true",
			stderr: "Unable to use a TTY - input is not a terminal or the right kind of file\n" + refused,
		},
		{
			// Without -i kubectl ignores -t, silently.
			name:   "tty without stdin",
			args:   []string{"exec", "-t", "demo", "--", "sh"},
			call:   "POST " + execPath + "?command=sh&container=main&stderr=true&stdout=true",
			stderr: refused,
		},
		{
			name:   "command without --",
			args:   []string{"exec", "demo", "date"},
			call:   "POST " + execPath + "?command=date&container=main&stderr=true&stdout=true",
			stderr: "mini-kubectl exec [POD] [COMMAND] is DEPRECATED and will be removed in a future version. Use mini-kubectl exec [POD] -- [COMMAND] instead.\n" + refused,
		},
		{
			name:   "quiet",
			args:   []string{"exec", "-q", "-it", "demo", "--", "sh"},
			call:   "POST " + execPath + "?command=sh&container=main&stderr=true&stdin=true&stdout=true",
			stderr: refused,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.resetCalls()
			r := api.run(strings.NewReader(""), append([]string{"--protocol", "spdy"}, tc.args...)...)
			if r.code != 1 || r.stdout != "" || r.stderr != tc.stderr {
				t.Errorf("got %+v, want exit 1 and stderr %q", r, tc.stderr)
			}
			if calls := api.recorded(); len(calls) != 1 || calls[0] != tc.call {
				t.Errorf("requests %q, want [%q]", calls, tc.call)
			}
		})
	}
}

func TestExecErrors(t *testing.T) {
	api := newFakeAPI(t)
	done := runningPod("done", "main")
	done.Status.Phase = corev1.PodSucceeded
	api.addPod(done)
	unreachable := filepath.Join(t.TempDir(), "kubeconfig")
	writeKubeconfig(t, unreachable, map[string]string{"gone": "http://127.0.0.1:1"}, "gone", "default")

	for _, tc := range []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown pod", []string{"exec", "x", "--", "true"}, "Error from server (NotFound): pods \"x\" not found\n"},
		{"completed pod", []string{"exec", "done", "--", "true"}, "error: cannot exec into a container in a completed pod; current phase is Succeeded\n"},
		{"no command", []string{"exec", "done"}, "error: you must specify at least one command for the container\n"},
		{"no pod", []string{"exec", "--", "true"}, "error: pod, type/name or --filename must be specified\n"},
		{"not a pod", []string{"exec", "deploy/web", "--", "true"}, "error: mini-kubectl only resolves pods, as NAME or pod/NAME, not \"deploy/web\"\n"},
		{"bad protocol", []string{"--protocol", "carrier-pigeon", "exec", "x", "--", "true"}, "error: invalid argument \"carrier-pigeon\" for \"--protocol\" flag: --protocol must be auto, websocket or spdy, not \"carrier-pigeon\"\nSee 'mini-kubectl exec -h' for help and examples\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := api.run(nil, tc.args...)
			if r != (result{stderr: tc.stderr, code: 1}) {
				t.Errorf("got %+v, want exit 1 and stderr %q", r, tc.stderr)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		r := runKubectl(t, nil, "--kubeconfig", unreachable, "exec", "demo", "--", "true")
		want := "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?\n"
		if r != (result{stderr: want, code: 1}) {
			t.Errorf("got %+v, want exit 1 and stderr %q", r, want)
		}
	})
}

// TestExecDefaultContainer checks kubectl's choice of container when -c is
// not given, and its notice when there was a choice.
func TestExecDefaultContainer(t *testing.T) {
	api := newFakeAPI(t)
	api.useContainer(demoContainer)
	api.addPod(runningPod("two", "main", "side"))
	annotated := runningPod("annotated", "main", "side")
	annotated.Annotations = map[string]string{defaultContainerAnnotation: "side"}
	api.addPod(annotated)

	r := api.run(nil, "--protocol", "spdy", "exec", "two", "--", "echo", "hi")
	if want := (result{stdout: "hi\n", stderr: "Defaulted container \"main\" out of: main, side\n"}); r != want {
		t.Errorf("two containers: got %+v, want %+v", r, want)
	}
	api.resetCalls()
	if r := api.run(nil, "--protocol", "spdy", "exec", "annotated", "--", "echo", "hi"); r != (result{stdout: "hi\n"}) {
		t.Errorf("annotated: %+v", r)
	}
	if calls := api.recorded(); len(calls) != 1 || !strings.Contains(calls[0], "&container=side&") {
		t.Errorf("annotated: requests %q, want container=side", calls)
	}
}

// TestExecInterrupted cancels a running exec, as Ctrl-C or SIGTERM does in
// the binary: mini-kubectl ends at once, silently, with exit code 1.
//
// It cancels once output has arrived. Cancelled earlier, before client-go's
// WebSocket executor has created its streams, that executor leaks the stream
// goroutines it creates afterwards (websocket.go closes only the streams
// that exist when the context ends) — harmless in a process about to exit.
// And over WebSocket, client-go's heartbeat goroutine lingers until its next
// ping fails, up to 5 s; the goroutine check waits for it.
func TestExecInterrupted(t *testing.T) {
	for _, protocol := range []string{"spdy", "websocket"} {
		t.Run(protocol, func(t *testing.T) {
			withGoroutineCheck(t)
			api := newFakeAPI(t)
			api.addPod(runningPod("demo", "main"))
			release := make(chan struct{})
			t.Cleanup(func() { close(release) })
			api.useContainer(func(cmd []string, s containerStreams) error {
				fmt.Fprintln(s.out, "started")
				<-release
				return nil
			})

			ctx, cancel := context.WithCancel(context.Background())
			stdout := &firstWrite{written: make(chan struct{})}
			go func() {
				<-stdout.written
				cancel()
			}()
			// client-go's copy goroutines may still run when an interrupted
			// Run returns, so stderr needs a lock too.
			stderr := &firstWrite{written: make(chan struct{})}
			code := Run(ctx, []string{"--kubeconfig", api.kubeconfig, "--protocol", protocol, "exec", "demo", "--", "sleep"},
				IOStreams{Out: stdout, ErrOut: stderr})
			if code != 1 || stdout.String() != "started\n" || stderr.String() != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, the first line and nothing", code, stdout.String(), stderr.String())
			}
		})
	}
}

// firstWrite is a buffer that tells when something was first written to it.
type firstWrite struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	written chan struct{}
}

func (w *firstWrite) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.Len() == 0 {
		close(w.written)
	}
	return w.buf.Write(p)
}

func (w *firstWrite) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
