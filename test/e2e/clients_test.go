package e2e

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/execlab/execlab/pkg/execlabtest"
)

const kubectlDir = "/usr/lib/google-cloud-sdk/bin"

// client is one command-line client of the stack: mini-kubectl or a kubectl.
type client struct {
	name string
	// bin is the binary; a bare name is looked up in binDir.
	bin string
	// args come before the command's own (flags such as --protocol).
	args []string
	env  []string
	// kubectl marks the real kubectl, which gets a fresh --cache-dir so the
	// dispatcher's cached /version never leaks between stacks.
	kubectl bool
}

var (
	miniSPDY      = client{name: "mini-kubectl-spdy", bin: "mini-kubectl", args: []string{"--protocol", "spdy"}}
	kubectl128    = client{name: "kubectl-1.28", bin: kubectlDir + "/kubectl.1.28", kubectl: true}
	kubectlNoWS   = client{name: "kubectl-spdy", bin: "/usr/bin/kubectl", kubectl: true, env: []string{"KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false"}}
	spdyClients   = []client{miniSPDY, kubectl128, kubectlNoWS}
	kubectlLatest = client{name: "kubectl", bin: "/usr/bin/kubectl", kubectl: true}
)

// clientRace matches what client-go 1.33's WebSocket executor logs when the
// server's first message — the empty stdout message with which wsstream
// (kube-apiserver's translator, and this streaming server) says the
// connection is ready — arrives before the client has registered its
// streams: it starts reading before it creates them. Nothing is lost.
var clientRace = regexp.MustCompile(`(?m)^E\d{4} [0-9:.]+ +\d+ websocket\.go:\d+\] Unknown stream id 1, discarding message\n`)

// result is what a client run left behind.
type result struct {
	stdout, stderr string
	code           int
}

func (c client) command(ctx context.Context, t *testing.T, s *execlabtest.Stack, args ...string) *exec.Cmd {
	bin := c.bin
	if !filepath.IsAbs(bin) {
		bin = filepath.Join(binDir, bin)
	}
	full := append([]string{"--kubeconfig", s.Kubeconfig}, c.args...)
	if c.kubectl {
		full = append(full, "--cache-dir", t.TempDir())
	}
	cmd := exec.CommandContext(ctx, bin, append(full, args...)...)
	cmd.Env = append(os.Environ(), c.env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// run runs the client to completion with stdin, failing the test if it does
// not finish within a minute.
func (c client) run(t *testing.T, s *execlabtest.Stack, stdin io.Reader, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := c.command(ctx, t, s, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: did not finish within a minute; stderr: %s", c.name, args, stderr.String())
	}
	r := result{stdout: stdout.String(), stderr: clientRace.ReplaceAllString(stderr.String(), "")}
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("%s %v: %v", c.name, args, err)
	}
	return r
}

// terminal is a client running on a pseudo-terminal, as a person would use it.
type terminal struct {
	t    *testing.T
	cmd  *exec.Cmd
	pty  *os.File
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

// runTerminal starts the client on a new pty of rows x cols.
func (c client) runTerminal(t *testing.T, s *execlabtest.Stack, rows, cols uint16, args ...string) *terminal {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	term := &terminal{t: t, cmd: c.command(ctx, t, s, args...), done: make(chan struct{})}
	f, err := pty.StartWithSize(term.cmd, &pty.Winsize{Rows: rows, Cols: cols})
	if err != nil {
		t.Fatal(err)
	}
	term.pty = f
	go func() {
		defer close(term.done)
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			term.mu.Lock()
			term.out.Write(buf[:n])
			term.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		term.cmd.Process.Kill()
		term.cmd.Wait()
		f.Close()
	})
	return term
}

func (term *terminal) output() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

func (term *terminal) write(s string) {
	term.t.Helper()
	if _, err := term.pty.Write([]byte(s)); err != nil {
		term.t.Fatalf("write to terminal: %v", err)
	}
}

func (term *terminal) resize(rows, cols uint16) {
	term.t.Helper()
	if err := pty.Setsize(term.pty, &pty.Winsize{Rows: rows, Cols: cols}); err != nil {
		term.t.Fatal(err)
	}
}

// until types input every 300 ms until the output holds want; a resize and
// typed input travel on different streams, so only a retry sees the effect.
func (term *terminal) until(input, want string) {
	term.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		if input != "" {
			term.write(input)
		}
		wait := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(wait) {
			if strings.Contains(term.output(), want) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	term.t.Fatalf("terminal never showed %q; output:\n%s", want, term.output())
}

// wait waits for the client to exit and returns its exit code.
func (term *terminal) wait() int {
	term.t.Helper()
	select {
	case <-term.done:
	case <-time.After(20 * time.Second):
		term.t.Fatalf("client did not exit; output:\n%s", term.output())
	}
	err := term.cmd.Wait()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		return exitErr.ExitCode()
	}
	if err != nil {
		term.t.Fatal(err)
	}
	return 0
}
