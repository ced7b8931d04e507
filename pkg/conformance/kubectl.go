package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"

	clientexec "k8s.io/client-go/util/exec"
)

// Kubectl is a kubectl binary as the client: each session is a kubectl
// process, so the cases see what a person at a terminal sees. It cannot
// choose versions, turn fallback off or open a terminal without one
// (those cases are not applicable to it); it speaks SPDY when told to
// (KUBECTL_REMOTE_COMMAND_WEBSOCKETS and KUBECTL_PORT_FORWARD_WEBSOCKETS
// set to false), and WebSocket v5, falling back to SPDY, from 1.30 (exec,
// attach) and 1.31 (port-forward).
type Kubectl struct {
	// Path is the binary; Kubeconfig the file it reads.
	Path, Kubeconfig string
	// Env is added to this process's environment.
	Env []string
	// minor is the client's minor version.
	minor int
	// cacheDir is the --cache-dir of every call: kubectl's dispatcher
	// keeps the server's /version there for hours.
	cacheDir string
}

// NewKubectl is the kubectl at path, with kubeconfig. Close removes its
// cache directory.
func NewKubectl(ctx context.Context, path, kubeconfig string, env ...string) (*Kubectl, error) {
	k := &Kubectl{Path: path, Kubeconfig: kubeconfig, Env: env}
	out, err := exec.CommandContext(ctx, path, "version", "--client", "-o", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("%s version: %w", path, err)
	}
	var v struct {
		ClientVersion struct{ Minor string } `json:"clientVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("%s version: %w", path, err)
	}
	if k.minor, err = strconv.Atoi(strings.TrimSuffix(v.ClientVersion.Minor, "+")); err != nil {
		return nil, fmt.Errorf("%s version: minor %q", path, v.ClientVersion.Minor)
	}
	if k.cacheDir, err = os.MkdirTemp("", "execlab-kubectl-cache-"); err != nil {
		return nil, err
	}
	return k, nil
}

// Close removes the cache directory.
func (k *Kubectl) Close() error { return os.RemoveAll(k.cacheDir) }

func (k *Kubectl) Name() string { return fmt.Sprintf("kubectl 1.%d", k.minor) }

func (k *Kubectl) command(ctx context.Context, websocketsEnv string, p Protocol, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, k.Path, append([]string{"--kubeconfig", k.Kubeconfig, "--cache-dir", k.cacheDir}, args...)...)
	cmd.Env = append(os.Environ(), k.Env...)
	if p == SPDY {
		cmd.Env = append(cmd.Env, websocketsEnv+"=false")
	}
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func (k *Kubectl) unsupported(what string) error {
	return Unsupported(k.Name() + " " + what)
}

func (k *Kubectl) Stream(ctx context.Context, req StreamRequest) error {
	switch {
	case len(req.Versions) > 0:
		return k.unsupported("offers the versions it knows, no others")
	case req.TTY:
		return k.unsupported("opens a terminal only on a terminal of its own")
	case req.Subresource == "exec" && len(req.Command) == 0:
		return k.unsupported("sends no exec without a command")
	case req.Protocol == WebSocketV4:
		return k.unsupported("speaks no v4.channel.k8s.io over WebSocket")
	case req.Protocol == WebSocketV5 && k.minor < 30:
		return k.unsupported("speaks SPDY only")
	}
	args := []string{req.Subresource, "-n", req.Namespace, req.Pod, "-c", req.Container}
	if req.Stdin != nil {
		args = append(args, "-i")
	}
	if req.Subresource == "exec" {
		args = append(append(args, "--"), req.Command...)
	}
	cmd := k.command(ctx, "KUBECTL_REMOTE_COMMAND_WEBSOCKETS", req.Protocol, args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = orDiscard(req.Stdout), &stderr
	if req.Stdin != nil {
		// A pipe of our own: exec.Cmd would wait for a Reader's end, which
		// an interactive stdin may never reach, long after kubectl exited.
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd.Stdin = r
		go func() {
			_, _ = io.Copy(w, req.Stdin)
			w.Close()
		}()
		defer w.Close()
		defer r.Close()
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	remote, result := kubectlResult(stderr.String(), err)
	if req.Stderr != nil {
		_, _ = io.WriteString(req.Stderr, remote)
	}
	return result
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}

// kubectl's own lines on stderr: the remote command's exit code, and its
// errors (kubectl/pkg/cmd/util/helpers.go checkErr).
var (
	exitLine  = regexp.MustCompile(`(?m)^command terminated with exit code (\d+)\n?`)
	errorLine = regexp.MustCompile(`(?m)^(error: |Error from server(?: \([A-Za-z]+\))?: )(.*)\n?`)
	// raceLine is what client-go 1.33's WebSocket executor logs when the
	// server's first message arrives before it made its streams: nothing
	// is lost (see test/e2e's clientRace).
	raceLine = regexp.MustCompile(`(?m)^E\d{4} [0-9:.]+ +\d+ websocket\.go:\d+\] Unknown stream id 1, discarding message\n`)
)

// kubectlResult splits kubectl's stderr into the remote command's and
// kubectl's own, and turns the latter into the session's result.
func kubectlResult(stderr string, err error) (string, error) {
	stderr = raceLine.ReplaceAllString(stderr, "")
	if m := exitLine.FindStringSubmatch(stderr); m != nil {
		code, _ := strconv.Atoi(m[1])
		return exitLine.ReplaceAllString(stderr, ""), clientexec.CodeExitError{Code: code, Err: errors.New(strings.TrimSpace(m[0]))}
	}
	if m := errorLine.FindAllStringSubmatch(stderr, -1); m != nil {
		last := m[len(m)-1]
		return errorLine.ReplaceAllString(stderr, ""), errors.New(last[1] + last[2])
	}
	if err != nil {
		return "", fmt.Errorf("kubectl: %w: %s", err, strings.TrimSpace(stderr))
	}
	return stderr, nil
}

func (k *Kubectl) PortForward(ctx context.Context, req PortForwardRequest) (*Forward, error) {
	if req.Protocol.WebSocket() && k.minor < 31 {
		return nil, k.unsupported("port-forwards over SPDY only")
	}
	cmd := k.command(ctx, "KUBECTL_PORT_FORWARD_WEBSOCKETS", req.Protocol,
		"port-forward", "-n", req.Namespace, "--address", "127.0.0.1", "pod/"+req.Pod, fmt.Sprintf(":%d", req.Port))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(line, "Forwarding from ")
	addr, _, _ = strings.Cut(addr, " ->")
	if !ok || addr == "" {
		werr := cmd.Wait()
		_, err := kubectlResult(stderr.String(), werr)
		if err == nil {
			err = fmt.Errorf("kubectl port-forward printed %q", line)
		}
		return nil, err
	}
	done := make(chan error, 1)
	go func() {
		err := cmd.Wait()
		if ctx.Err() != nil {
			err = nil
		} else if _, kerr := kubectlResult(stderr.String(), err); kerr != nil {
			err = kerr
		}
		done <- err
	}()
	return &Forward{Addr: addr, Done: done}, nil
}

func (k *Kubectl) Logs(ctx context.Context, req LogsRequest) (io.ReadCloser, error) {
	args := []string{"logs", "-n", req.Namespace, req.Pod, "-c", req.Container}
	o := req.Options
	if o.TailLines != nil {
		args = append(args, fmt.Sprintf("--tail=%d", *o.TailLines))
	}
	if o.LimitBytes != nil {
		args = append(args, fmt.Sprintf("--limit-bytes=%d", *o.LimitBytes))
	}
	if o.SinceSeconds != nil {
		args = append(args, fmt.Sprintf("--since=%ds", *o.SinceSeconds))
	}
	if o.SinceTime != nil {
		args = append(args, "--since-time="+o.SinceTime.UTC().Format(time.RFC3339))
	}
	if o.Timestamps {
		args = append(args, "--timestamps")
	}
	if o.Follow {
		args = append(args, "-f")
	}
	ctx, cancel := context.WithCancel(ctx)
	cmd := k.command(ctx, "", HTTP, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, err
	}
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, err
	}
	return &kubectlLogs{Reader: stdout, cmd: cmd, cancel: cancel, stderr: &stderr}, nil
}

// kubectlLogs reads a kubectl logs process's output; its end is the
// process's, and its error kubectl's.
type kubectlLogs struct {
	io.Reader
	cmd    *exec.Cmd
	cancel context.CancelFunc
	stderr *lockedBuffer
	waited bool
	err    error
}

func (l *kubectlLogs) Read(p []byte) (int, error) {
	n, err := l.Reader.Read(p)
	if err == io.EOF && !l.waited {
		l.waited = true
		if _, kerr := kubectlResult(l.stderr.String(), l.cmd.Wait()); kerr != nil {
			l.err = kerr
		}
	}
	if err == io.EOF && l.err != nil {
		return n, l.err
	}
	return n, err
}

func (l *kubectlLogs) Close() error {
	l.cancel()
	if !l.waited {
		l.waited = true
		_ = l.cmd.Wait()
	}
	return nil
}
