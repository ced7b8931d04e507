package demostack

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/execlab/execlab/pkg/apiserver"
)

// Usage is cmd/execlab's.
const Usage = `usage: execlab COMMAND
  up [--runtime fake|containerd] [--streaming-mode translate|passthrough|per-node]
     [--redirect-container-streaming] [--streaming-proxy-redirects]
                start the stack (or what of it has stopped), with the demo pod
  down          stop it
  status        what runs, the pods, the sessions open
  reset         every pod gone but the demo pod, which runs
  env           the stack's environment as export lines: eval "$(bin/execlab env)"
  lab [N]       run lab N of docs/labs against the stack and check its output; list them`

// Main runs cmd/execlab's command in args for the repository at root (its
// bin/, scripts/ and docs/labs/); the state directory and ports come from
// EXECLAB_STATE (default root/.execlab), EXECLAB_APISERVER_PORT (6443) and
// EXECLAB_KUBELET_PORT (10250).
func Main(ctx context.Context, root string, args []string, stdout, stderr io.Writer) error {
	cfg := Config{Root: root, StateDir: os.Getenv("EXECLAB_STATE"), TracingEndpoint: os.Getenv("EXECLAB_TRACING_ENDPOINT"), Stdout: stdout, Stderr: stderr}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(root, ".execlab")
	}
	var err error
	if cfg.APIServerPort, err = portFromEnv("EXECLAB_APISERVER_PORT", 6443); err != nil {
		return err
	}
	if cfg.KubeletPort, err = portFromEnv("EXECLAB_KUBELET_PORT", 10250); err != nil {
		return err
	}
	if len(args) == 0 {
		return fmt.Errorf("no command\n%s", Usage)
	}
	fs := flag.NewFlagSet("execlab "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, Usage) }
	var up UpOptions
	if args[0] == "up" {
		fs.StringVar(&up.Runtime, "runtime", FakeRuntime, "the pods' CRI runtime: fake (fake-cri) or containerd (scripts/containerd.sh)")
		fs.StringVar((*string)(&up.StreamingMode), "streaming-mode", string(apiserver.StreamingTranslate), "the apiserver's: translate WebSocket to SPDY for the kubelet, passthrough, or per-node (passthrough to a node that declares ExtendWebSocketsToKubelet, as kube-apiserver 1.36+)")
		fs.BoolVar(&up.RedirectContainerStreaming, "redirect-container-streaming", false, "the kubelet redirects streams to the runtime instead of proxying them (removed in Kubernetes 1.20)")
		fs.BoolVar(&up.StreamingProxyRedirects, "streaming-proxy-redirects", false, "the apiserver follows such redirects (the StreamingProxyRedirects gate, removed in 1.24)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch {
	case args[0] == "lab" && fs.NArg() == 0:
		return ListLabs(cfg)
	case args[0] == "lab" && fs.NArg() == 1:
		n, err := strconv.Atoi(fs.Arg(0))
		if err != nil {
			return fmt.Errorf("lab %q: want a lab's number", fs.Arg(0))
		}
		return RunLab(ctx, cfg, n)
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments %q\n%s", fs.Args(), Usage)
	}
	switch args[0] {
	case "up":
		return Up(ctx, cfg, up)
	case "down":
		return Down(ctx, cfg)
	case "status":
		return Status(ctx, cfg)
	case "reset":
		return Reset(ctx, cfg)
	case "env":
		return PrintEnv(cfg)
	}
	return fmt.Errorf("unknown command %q\n%s", args[0], Usage)
}

func portFromEnv(name string, def int) (int, error) {
	v := os.Getenv(name)
	if v == "" {
		return def, nil
	}
	port, err := strconv.Atoi(v)
	if err != nil || port <= 0 || port > 65535 {
		return 0, fmt.Errorf("%s=%q: want a port number", name, v)
	}
	return port, nil
}
