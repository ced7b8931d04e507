// Command fake-cri is a CRI runtime whose containers are local processes
// (pkg/fakecri), with the streaming server of pkg/streaming behind the URLs
// that Exec, Attach and PortForward answer.
//
//	fake-cri --listen unix:///abs/fake-cri.sock --root DIR [--stream-address 127.0.0.1:0] [--debug-address ADDR]
//	         [--unknown-images generic|not-found] [--busybox PATH] [--imagebin PATH] [--shim PATH]
//
// SIGINT or SIGTERM stops it gracefully. As a real runtime's, its
// containers outlive it: each main process runs under a fake-cri-shim, and
// a fake-cri restarted on the same root finds them again. Execs are its
// child processes and die with it (Pdeathsig).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/util/remotecommand"

	"github.com/execlab/execlab/pkg/fakecri"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/streaming"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

// run is main without the process: it returns the exit code, 2 for bad usage.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("fake-cri", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "", "CRI gRPC endpoint, unix:///absolute/path")
	opts := fakecri.Options{}
	fs.StringVar(&opts.Root, "root", "", "state directory: sandboxes, containers and their working directories, images")
	fs.StringVar(&opts.Streaming.Addr, "stream-address", "127.0.0.1:0", "listen address of the streaming server (exec, attach, port-forward); loopback only")
	fs.IntVar(&opts.Streaming.MaxSessions, "max-streaming-sessions", streaming.DefaultMaxSessions, "sessions the streaming server serves at once; past it, 429")
	fs.DurationVar(&opts.Streaming.StreamIdleTimeout, "stream-idle-timeout", 4*time.Hour, "close a streaming session on which nothing moved for this long (containerd's stream_idle_timeout)")
	fs.DurationVar(&opts.Streaming.StreamCreationTimeout, "stream-creation-timeout", remotecommand.DefaultStreamCreationTimeout, "how long an SPDY client may take to create its streams")
	fs.StringVar((*string)(&opts.UnknownImages), "unknown-images", string(fakecri.UnknownImagesGeneric), "pulling an image the catalogue does not know: generic (a generic image) or not-found (fail, as a registry without it)")
	fs.StringVar(&opts.Busybox, "busybox", "", "busybox binary for the images' applets (default: /bin/busybox, /usr/bin/busybox or in PATH)")
	fs.StringVar(&opts.ImageBin, "imagebin", "", "cmd/imagebin binary for agnhost, nginx, httpd and pause (default: beside fake-cri, or in PATH)")
	fs.StringVar(&opts.Shim, "shim", "", "cmd/fake-cri-shim binary, which keeps each container running while fake-cri is away (default: beside fake-cri, or in PATH)")
	fs.StringVar(&opts.DebugAddress, "debug-address", "", "serve net/http/pprof at this address (off when empty)")
	fs.StringVar(&opts.TracingEndpoint, "tracing-endpoint", "", "OTLP/HTTP collector to send traces to, such as http://127.0.0.1:4318 (off when empty)")
	fs.Var(&opts.Faults, "fault", "inject a fault into the CRI calls or the streaming server: "+faults.Syntax)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	opts.Socket, err = socketPath(*listen)
	if err == nil && opts.Root == "" {
		err = errors.New("--root is required")
	}
	if err == nil && fs.NArg() > 0 {
		err = fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err != nil {
		fmt.Fprintln(stderr, "fake-cri:", err)
		fs.Usage()
		return 2
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	if err := fakecri.Serve(ctx, opts); err != nil {
		opts.Logger.Error("fake-cri failed", "err", err)
		return 1
	}
	return 0
}

// socketPath takes the path out of unix:///abs/path, as kubelet's
// --container-runtime-endpoint is written.
func socketPath(endpoint string) (string, error) {
	p, ok := strings.CutPrefix(endpoint, "unix://")
	if !ok || !filepath.IsAbs(p) {
		return "", fmt.Errorf("--listen %q: want unix:///absolute/path", endpoint)
	}
	return p, nil
}
