package apiserver

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/testutil"
)

// TestTracingStopsAfterSlowShutdown: a request that keeps the server's
// Shutdown waiting its whole grace must not keep the tracer's span
// processor running after Serve returns (it did, when both shared one
// context: the provider, given an expired context, shuts nothing down).
func TestTracingStopsAfterSlowShutdown(t *testing.T) {
	testutil.CheckGoroutines(t)
	srv, err := New(Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, l) }()

	// A create whose body never comes in full: its handler waits to read it.
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"kind\":")
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(shutdownGrace + 10*time.Second):
		t.Fatal("Serve did not return")
	}
	conn.Close()
}
