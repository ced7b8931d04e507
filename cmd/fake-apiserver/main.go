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
	"path/filepath"
	"strings"
	"syscall"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/faults"
)

func main() {
	var (
		opts     apiserver.Options
		mode     string
		logLevel slog.Level
	)
	flag.StringVar(&opts.BindAddress, "bind-address", "127.0.0.1", "address to listen on")
	flag.IntVar(&opts.SecurePort, "secure-port", 6443, "port to serve the API on over HTTPS")
	flag.StringVar(&opts.DataDir, "data-dir", "", "directory keeping the objects across restarts; empty keeps them in memory")
	flag.StringVar(&opts.CertDir, "cert-dir", "", "directory of the cluster CA and certificates, made on first start (default <data-dir>/pki)")
	flag.StringVar(&opts.TokenAuthFile, "token-auth-file", "", "bearer tokens, CSV lines token,user,uid,\"group1,group2\"")
	flag.BoolVar(&opts.AnonymousAuth, "anonymous-auth", true, "treat requests without credentials as system:anonymous rather than answer 401")
	anonymousPaths := flag.String("anonymous-auth-paths", strings.Join(apiserver.DefaultAnonymousPaths, ","), "comma-separated paths where --anonymous-auth applies; empty: every path")
	flag.StringVar(&opts.AuthorizationPolicyFile, "authorization-policy-file", "", "static authorization policy (YAML rules in RBAC's shape) added to the built-in rules; empty: the built-in rules alone (system:masters may do anything)")
	flag.StringVar(&mode, "streaming-mode", string(apiserver.StreamingTranslate), "WebSocket exec/attach/port-forward: translate (to SPDY, as kube-apiserver 1.30 to 1.35), passthrough (to the kubelet unchanged, as before 1.30), or per-node (passthrough to a node that declares ExtendWebSocketsToKubelet, translate otherwise, as 1.36+)")
	flag.BoolVar(&opts.StreamingProxyRedirects, "streaming-proxy-redirects", false, "follow a kubelet's redirect to its runtime's streaming server, as kube-apiserver's StreamingProxyRedirects gate did until 1.24 (a teaching switch)")
	flag.IntVar(&opts.MaxStreamingSessions, "max-streaming-sessions", apiserver.DefaultMaxStreamingSessions, "exec, attach and port-forward sessions proxied at once; past it, 429")
	flag.StringVar(&opts.TracingEndpoint, "tracing-endpoint", "", "OTLP/HTTP collector to send traces to, such as http://127.0.0.1:4318 (the live view at /ui/ has them either way)")
	flag.StringVar(&opts.TracingReceiverAddress, "tracing-receiver-address", "", "loopback address to receive the other components' spans on, OTLP/HTTP (off when empty)")
	flag.Var(&opts.Faults, "fault", "inject a fault into the exec, attach and port-forward sessions proxied: "+faults.Syntax)
	flag.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fake-apiserver: unexpected arguments %q\n", flag.Args())
		os.Exit(2)
	}
	if opts.CertDir == "" {
		if opts.DataDir == "" {
			fmt.Fprintln(os.Stderr, "fake-apiserver: serving HTTPS needs --cert-dir or --data-dir")
			os.Exit(2)
		}
		opts.CertDir = filepath.Join(opts.DataDir, "pki")
	}
	if *anonymousPaths != "" {
		opts.AnonymousPaths = strings.Split(*anonymousPaths, ",")
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
