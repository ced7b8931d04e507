// Command fake-cri is a CRI runtime whose containers are local processes
// (pkg/fakecri), with the streaming server of pkg/streaming behind the URLs
// that Exec, Attach and PortForward answer.
//
//	fake-cri --listen unix:///abs/fake-cri.sock --root DIR [--stream-address 127.0.0.1:0] [--debug-address ADDR]
//
// SIGINT or SIGTERM stops it gracefully. A real runtime's containers outlive
// it; these are its child processes and die with it (Pdeathsig). A fake-cri
// restarted on the same root lists them as exited, code 255, reason Unknown.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"k8s.io/apimachinery/pkg/util/remotecommand"

	"github.com/execlab/execlab/pkg/fakecri"
	"github.com/execlab/execlab/pkg/streaming"
)

// shutdownTimeout bounds the graceful stop of the gRPC server and the debug
// server; what is still open after it is cut.
const shutdownTimeout = 5 * time.Second

type options struct {
	socket        string
	root          string
	streamAddress string
	maxSessions   int
	// idleTimeout and creationTimeout are the streaming server's
	// StreamIdleTimeout and StreamCreationTimeout.
	idleTimeout     time.Duration
	creationTimeout time.Duration
	debugAddress    string
}

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
	root := fs.String("root", "", "state directory: sandboxes, containers and their working directories, images")
	streamAddress := fs.String("stream-address", "127.0.0.1:0", "listen address of the streaming server (exec, attach, port-forward); loopback only")
	maxSessions := fs.Int("max-streaming-sessions", streaming.DefaultMaxSessions, "sessions the streaming server serves at once; past it, 429")
	idleTimeout := fs.Duration("stream-idle-timeout", 4*time.Hour, "close a streaming session on which nothing moved for this long (containerd's stream_idle_timeout)")
	creationTimeout := fs.Duration("stream-creation-timeout", remotecommand.DefaultStreamCreationTimeout, "how long an SPDY client may take to create its streams")
	debugAddress := fs.String("debug-address", "", "serve net/http/pprof at this address (off when empty)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	socket, err := socketPath(*listen)
	if err == nil && *root == "" {
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
	log := slog.New(slog.NewTextHandler(stderr, nil))
	opts := options{socket: socket, root: *root, streamAddress: *streamAddress, maxSessions: *maxSessions,
		idleTimeout: *idleTimeout, creationTimeout: *creationTimeout, debugAddress: *debugAddress}
	if err := serve(ctx, opts, log); err != nil {
		log.Error("fake-cri failed", "err", err)
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

// serve runs the runtime until ctx ends, then stops the servers and the
// runtime, in that order.
func serve(ctx context.Context, opts options, log *slog.Logger) error {
	rt, err := fakecri.New(fakecri.Config{Root: opts.root, Version: version(), Logger: log})
	if err != nil {
		return err
	}
	defer rt.Close()
	streams, err := streaming.NewServer(streaming.Config{
		Addr:                  opts.streamAddress,
		MaxSessions:           opts.maxSessions,
		StreamIdleTimeout:     opts.idleTimeout,
		StreamCreationTimeout: opts.creationTimeout,
	}, rt)
	if err != nil {
		return fmt.Errorf("streaming server: %w", err)
	}
	defer streams.Close()
	lis, err := listenUnix(opts.socket)
	if err != nil {
		return err
	}
	g := grpc.NewServer()
	fakecri.NewService(rt, streams).Register(g)

	errc := make(chan error, 3)
	go func() { errc <- fmt.Errorf("streaming server: %w", streams.Serve()) }()
	go func() { errc <- fmt.Errorf("CRI server: %w", g.Serve(lis)) }()
	var debugSrv *http.Server
	if opts.debugAddress != "" {
		if debugSrv, err = serveDebug(opts.debugAddress, errc); err != nil {
			g.Stop()
			return err
		}
	}
	log.Info("fake-cri serving", "socket", opts.socket, "root", opts.root, "streaming", streams.URL(), "debug", opts.debugAddress)

	select {
	case <-ctx.Done():
		log.Info("fake-cri stopping")
		err = nil
	case err = <-errc:
	}
	stopGracefully(g)
	if debugSrv != nil {
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		debugSrv.Shutdown(shutdownCtx)
	}
	return err
}

// listenUnix listens on path, removing a socket a previous run left behind.
func listenUnix(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("remove stale socket: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return net.Listen("unix", path)
}

// serveDebug serves net/http/pprof, as the kubelet's and containerd's debug
// endpoints do; the end-to-end tests read goroutine counts from it.
func serveDebug(addr string, errc chan<- error) (*http.Server, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug server: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("debug server: %w", err)
		}
	}()
	return srv, nil
}

// stopGracefully lets RPCs in flight finish, for shutdownTimeout at most.
func stopGracefully(g *grpc.Server) {
	done := make(chan struct{})
	go func() {
		g.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(shutdownTimeout):
		g.Stop()
		<-done
	}
}

// version is the module's version this binary was built from.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "(devel)"
}
