package fakecri

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/execlab/execlab/internal/httpserver"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/streaming"
	"github.com/execlab/execlab/pkg/tracing"
)

// shutdownTimeout bounds the graceful stop of the gRPC server and the debug
// server; what is still open after it is cut.
const shutdownTimeout = 5 * time.Second

// Options configures Serve: the runtime, the socket of its CRI API, its
// streaming server and its debug server.
type Options struct {
	// Config is the runtime's. An empty Version is the main module's
	// version from the binary's build information.
	Config
	// Socket is the path of the unix socket the CRI gRPC API listens on. A
	// socket an earlier run left there is removed first.
	Socket string
	// Streaming configures the server behind the URLs that Exec, Attach and
	// PortForward answer.
	Streaming streaming.Config
	// DebugAddress, when not empty, is the TCP address net/http/pprof is
	// served on.
	DebugAddress string
	// TracingEndpoint, when not empty, is the OTLP/HTTP collector the CRI
	// calls and streaming sessions are traced to (pkg/tracing).
	TracingEndpoint string
	// Faults are injected into the CRI calls (the runtime hop) and the
	// streaming server (its hop), as pkg/faults says each applies.
	Faults faults.Set
}

// Serve runs a fake-cri until ctx ends: the runtime, its streaming server,
// the CRI gRPC API on a unix socket and the debug server, as containerd's
// server starts its CRI plugin (cmd/containerd/server/server.go). Then it
// stops the servers and the runtime, in that order, and returns nil; a
// server that fails ends it early with that server's error.
func Serve(ctx context.Context, opts Options) error {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Version == "" {
		opts.Version = buildVersion()
	}
	if err := opts.Faults.Check(faults.Runtime, faults.Streaming); err != nil {
		return fmt.Errorf("fake-cri: %w", err)
	}
	opts.Logger = slog.New(tracing.LogHandler(opts.Logger.Handler()))
	log := opts.Logger
	tp, err := tracing.New(tracing.Config{Service: "fake-cri", Endpoint: opts.TracingEndpoint})
	if err != nil {
		return err
	}
	defer shutdownTracing(tp)
	rt, err := New(opts.Config)
	if err != nil {
		return err
	}
	defer rt.Close()
	// The streaming server's errors say that they are its own.
	opts.Streaming.TracerProvider = tp.TracerProvider()
	opts.Streaming.Logger = log
	opts.Streaming.Faults = append(opts.Streaming.Faults, opts.Faults.At(faults.Streaming)...)
	streams, err := streaming.NewServer(opts.Streaming, rt)
	if err != nil {
		return err
	}
	defer streams.Close()
	lis, err := listenUnix(opts.Socket)
	if err != nil {
		return err
	}
	// gRPC closes the listener only if Serve ran before Stop; closing it
	// here as well removes the socket whichever came first.
	defer lis.Close()
	// The kubelet's trace context arrives as gRPC metadata, as with
	// containerd's otelgrpc interceptors.
	grpcOpts := []grpc.ServerOption{grpc.StatsHandler(otelgrpc.NewServerHandler(
		otelgrpc.WithTracerProvider(tp.TracerProvider()), otelgrpc.WithPropagators(tracing.Propagator)))}
	if interceptor := faults.UnaryInterceptor(opts.Faults); interceptor != nil {
		grpcOpts = append(grpcOpts, grpc.UnaryInterceptor(interceptor))
	}
	g := grpc.NewServer(grpcOpts...)
	NewService(rt, streams).Register(g)

	errc := make(chan error, 3)
	go func() { errc <- streams.Serve() }()
	go func() {
		if err := g.Serve(lis); err != nil {
			errc <- fmt.Errorf("CRI server: %w", err)
		}
	}()
	var debugSrv *http.Server
	if opts.DebugAddress != "" {
		if debugSrv, err = serveDebug(opts.DebugAddress, errc); err != nil {
			g.Stop()
			return err
		}
	}
	log.Info("fake-cri serving", "socket", opts.Socket, "root", opts.Root, "streaming", streams.URL(), "debug", opts.DebugAddress)

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

// shutdownTracing exports the spans still pending, within shutdownTimeout.
func shutdownTracing(tp *tracing.Provider) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	tp.Shutdown(ctx)
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
	mux.Handle(httpserver.PprofPath, httpserver.Pprof())
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

// buildVersion is the version of the main module the binary was built from.
func buildVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.Main.Version
	}
	return "(devel)"
}
