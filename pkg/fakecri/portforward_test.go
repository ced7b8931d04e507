package fakecri

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// forwardStream is a port-forward stream as the streaming server hands it
// over: the client's data to read, a writer back to the client.
type forwardStream struct {
	*io.PipeReader
	*io.PipeWriter
}

func (s forwardStream) Close() error { return s.PipeWriter.Close() }

// newForwardStream returns the runtime's end and the client's two halves.
func newForwardStream() (forwardStream, *io.PipeWriter, *io.PipeReader) {
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	return forwardStream{inR, outW}, inW, outR
}

// listen serves each connection with serve on a loopback port.
func listen(t *testing.T, serve func(net.Conn)) int32 {
	t.Helper()
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return int32(l.Addr().(*net.TCPAddr).Port)
}

func TestPortForward(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")

	t.Run("echo", func(t *testing.T) {
		port := listen(t, func(c net.Conn) { io.Copy(c, c) })
		stream, clientW, clientR := newForwardStream()
		done := make(chan error, 1)
		go func() { done <- e.rt.PortForward(ctx, sb[:8], port, stream) }()
		payload := make([]byte, 1<<20)
		rand.Read(payload)
		go func() {
			clientW.Write(payload)
			clientW.Close() // the client is done sending; the answer still comes
		}()
		got, err := io.ReadAll(clientR)
		if err != nil || !bytes.Equal(got, payload) {
			t.Errorf("echoed %d bytes (%v), sent %d", len(got), err, len(payload))
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	t.Run("the pod closes", func(t *testing.T) {
		port := listen(t, func(c net.Conn) { io.WriteString(c, "bye\n") })
		stream, clientW, clientR := newForwardStream()
		done := make(chan error, 1)
		go func() { done <- e.rt.PortForward(ctx, sb, port, stream) }()
		if got, err := io.ReadAll(clientR); err != nil || string(got) != "bye\n" {
			t.Errorf("read %q, %v", got, err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
		clientW.Close() // the session's end
	})
	t.Run("the client leaves", func(t *testing.T) {
		port := listen(t, func(c net.Conn) { io.Copy(c, c) })
		stream, clientW, clientR := newForwardStream()
		cctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- e.rt.PortForward(cctx, sb, port, stream) }()
		go clientW.Write([]byte("x"))
		if _, err := io.ReadFull(clientR, make([]byte, 1)); err != nil { // forwarding
			t.Fatal(err)
		}
		cancel()
		if err := <-done; err == nil || !strings.HasSuffix(err.Error(), "context canceled") {
			t.Errorf("error %v, want context canceled", err)
		}
		clientW.Close()
	})
	t.Run("errors", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := l.Addr().(*net.TCPAddr).Port
		l.Close()
		for _, tc := range []struct {
			sandbox string
			port    int32
			err     string
		}{
			{sb, 0, "invalid port 0"},
			{sb, 65536, "invalid port 65536"},
			{"nope", 80, `failed to find sandbox "nope" in store: not found`},
			{sb, int32(closed), `failed to execute portforward in network namespace "host": IPv4: dial tcp4 127.0.0.1:` + strconv.Itoa(closed) + `: connect: connection refused IPv6: `},
		} {
			stream, _, _ := newForwardStream()
			err := e.rt.PortForward(ctx, tc.sandbox, tc.port, stream)
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("PortForward(%.8s, %d): %v, want %q", tc.sandbox, tc.port, err, tc.err)
			}
		}
	})
	t.Run("RPC", func(t *testing.T) {
		resp, err := e.rs.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sb[:6], Port: []int32{80}})
		if err != nil || resp.Url != "http://127.0.0.1:1/portforward/"+sb {
			t.Errorf("PortForward: %v, %v", resp, err)
		}
		if _, err := e.rs.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb}); err != nil {
			t.Fatal(err)
		}
		_, err = e.rs.PortForward(ctx, &runtimeapi.PortForwardRequest{PodSandboxId: sb, Port: []int32{80}})
		wantCode(t, err, codes.Unknown, "sandbox container is not running")
	})
}
