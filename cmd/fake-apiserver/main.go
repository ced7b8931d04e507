// Command fake-apiserver serves enough of the Kubernetes API for kubectl and
// client-go (namespaces, nodes, pods, a scheduler, and the exec, attach,
// port-forward and log proxies to the kubelets). See pkg/apiserver.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/execlab/execlab/pkg/apiserver"
)

func main() {
	var (
		opts     apiserver.Options
		mode     string
		logLevel slog.Level
	)
	flag.StringVar(&opts.BindAddress, "bind-address", "127.0.0.1", "address to listen on")
	flag.IntVar(&opts.SecurePort, "secure-port", 6443, "port to serve the API on (plain HTTP for now)")
	flag.StringVar(&opts.DataDir, "data-dir", "", "directory keeping the objects across restarts; empty keeps them in memory")
	flag.StringVar(&mode, "streaming-mode", string(apiserver.StreamingTranslate), "WebSocket exec/attach/port-forward: translate (to SPDY, as kube-apiserver 1.30+) or passthrough (to the kubelet unchanged)")
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fake-apiserver: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	opts.StreamingMode = apiserver.StreamingMode(mode)
	opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	slog.SetDefault(opts.Logger)

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, opts); err != nil {
		opts.Logger.Error("fake-apiserver", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, opts apiserver.Options) error {
	srv, err := apiserver.New(opts)
	if err != nil {
		return err
	}
	return srv.ListenAndServe(ctx)
}
