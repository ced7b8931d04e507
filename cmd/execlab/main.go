// Command execlab keeps the demo stack running in the background
// (pkg/demostack), for `make demo`, `make down`, `make status`, `make reset`.
//
//	execlab up [--runtime fake|containerd]   start it, create the demo pod, print the kubeconfig's path
//	execlab down                             stop it, kubelet first
//	execlab status                           what runs, the pods, the sessions open
//	execlab reset                            every pod gone but the demo pod, which runs
//
// The binaries are beside it; the state in $EXECLAB_STATE (.execlab/), the
// ports $EXECLAB_APISERVER_PORT (6443) and $EXECLAB_KUBELET_PORT (10250),
// an OTLP/HTTP collector for every span in $EXECLAB_TRACING_ENDPOINT.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/execlab/execlab/pkg/demostack"
)

const usage = "usage: execlab up [--runtime fake|containerd] | down | status | reset"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "execlab:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("no command; %s", usage)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	// bin/execlab: the repository is the directory above.
	root := filepath.Dir(filepath.Dir(exe))
	cfg := demostack.Config{Root: root, StateDir: os.Getenv("EXECLAB_STATE"), TracingEndpoint: os.Getenv("EXECLAB_TRACING_ENDPOINT"), Stdout: os.Stdout, Stderr: os.Stderr}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(root, ".execlab")
	}
	if cfg.APIServerPort, err = portFromEnv("EXECLAB_APISERVER_PORT", 6443); err != nil {
		return err
	}
	if cfg.KubeletPort, err = portFromEnv("EXECLAB_KUBELET_PORT", 10250); err != nil {
		return err
	}
	fs := flag.NewFlagSet("execlab "+args[0], flag.ContinueOnError)
	runtime := fs.String("runtime", demostack.FakeRuntime, "the pods' CRI runtime: fake (fake-cri) or containerd (scripts/containerd.sh); up only")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() > 0 || (args[0] != "up" && fs.NFlag() > 0) {
		return fmt.Errorf("unexpected arguments; %s", usage)
	}
	switch args[0] {
	case "up":
		return demostack.Up(ctx, cfg, *runtime)
	case "down":
		return demostack.Down(ctx, cfg)
	case "status":
		return demostack.Status(ctx, cfg)
	case "reset":
		return demostack.Reset(ctx, cfg)
	}
	return fmt.Errorf("unknown command %q; %s", args[0], usage)
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
