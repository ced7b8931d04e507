package fakecri

import (
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"strconv"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// dialTimeout bounds a port-forward's connect, as containerd's.
const dialTimeout = 5 * time.Second

// PortForward connects stream to port of the sandbox, for pkg/streaming.
// Every pod shares the host's network, so that is the host's loopback, which
// is what containerd dials for a host-network sandbox
// (sandbox_portforward_linux.go): IPv4 first, then IPv6.
//
// When the client has sent everything, the pod's connection is half-closed
// and its answer still flows back; when the pod closes, the stream is closed
// and forwarding ends.
func (rt *Runtime) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	if port <= 0 || port > math.MaxUint16 {
		return fmt.Errorf("invalid port %d", port)
	}
	s, err := rt.getSandbox(podSandboxID)
	if err != nil {
		return fmt.Errorf("failed to find sandbox %q in store: %w", podSandboxID, err)
	}
	if s.getState() != runtimeapi.PodSandboxState_SANDBOX_READY {
		return fmt.Errorf("sandbox %q is not ready", s.id)
	}
	conn, err := dialLoopback(ctx, port)
	if err != nil {
		return fmt.Errorf("failed to execute portforward in network namespace %q: %w", "host", err)
	}
	defer conn.Close()

	if err := forward(ctx, stream, conn); err != nil {
		return fmt.Errorf("failed to execute portforward for %q port %d: %w", s.id, port, err)
	}
	return nil
}

// forward copies between a client's stream and a connection to the pod
// until the pod closes, or ctx ends. When the client has sent everything,
// the pod's connection is half-closed and its answer still flows back.
func forward(ctx context.Context, stream io.ReadWriter, conn *net.TCPConn) error {
	// Buffered: the copy that is still blocked on the client's stream when
	// forwarding ends finishes on its own once the session closes it.
	toPod, fromPod := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := io.Copy(conn, stream)
		conn.CloseWrite()
		toPod <- err
	}()
	go func() {
		_, err := io.Copy(stream, conn)
		fromPod <- err
	}()
	var err error
	select {
	case err = <-fromPod:
	case err = <-toPod:
		if err == nil {
			select {
			case err = <-fromPod:
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
	case <-ctx.Done():
		err = ctx.Err()
	}
	return err
}

func dialLoopback(ctx context.Context, port int32) (*net.TCPConn, error) {
	d := net.Dialer{Timeout: dialTimeout}
	p := strconv.Itoa(int(port))
	conn, errV4 := d.DialContext(ctx, "tcp4", net.JoinHostPort("127.0.0.1", p))
	if errV4 == nil {
		return conn.(*net.TCPConn), nil
	}
	conn, errV6 := d.DialContext(ctx, "tcp6", net.JoinHostPort("::1", p))
	if errV6 == nil {
		return conn.(*net.TCPConn), nil
	}
	return nil, fmt.Errorf("IPv4: %v IPv6: %v", errV4, errV6)
}
