package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/execlab/execlab/pkg/faults"
)

// forward starts the client's port-forward to port of pod, until ctx
// ends. With a fault on, the forward is held to the fault's Expect, as
// stream holds a session: refused, or cut (its end within Options.HangAfter).
func (e *env) forward(ctx context.Context, p Protocol, pod string, port int) (*Forward, error) {
	fw, err := e.client.PortForward(ctx, PortForwardRequest{Namespace: e.opts.Namespace, Pod: pod, Port: port, Protocol: p})
	f := e.opts.Fault
	switch {
	case f == nil || f.Expect() == faults.Normal:
		return fw, err
	case f.Expect() == faults.Refused:
		return nil, refused(*f, err)
	case err != nil:
		return nil, expectationMet(fmt.Sprintf("the forward cut by %s ended: %v", f, err))
	}
	// The tunnel is cut once a connection uses it.
	if conn, err := net.DialTimeout("tcp", fw.Addr, 5*time.Second); err == nil {
		_, _ = conn.Write([]byte("cut\n"))
		defer conn.Close()
	}
	select {
	case err := <-fw.Done:
		return nil, expectationMet(fmt.Sprintf("the forward cut by %s ended: %v", f, errOrSuccess(err)))
	case <-time.After(e.opts.HangAfter):
		return nil, fmt.Errorf("the forward still ran %v after the fault %s cut it", e.opts.HangAfter, f)
	}
}

// portForwardEcho sends 1 MiB through a forwarded connection to the echo
// server and half-closes it: the same bytes and then the echo's end must
// come back.
func portForwardEcho(ctx context.Context, e *env, p Protocol) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw, err := e.forward(ctx, p, e.pods.main, e.pods.echoPort)
	if err != nil {
		return err
	}
	sent := make([]byte, 1<<20)
	rand.Read(sent)
	got, err := echoHalfClosed(ctx, fw.Addr, sent)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, sent) {
		return fmt.Errorf("%d bytes back of %d sent, not the same", len(got), len(sent))
	}
	return nil
}

// portForwardSilent opens a forwarded connection and half-closes it at
// once: nothing, then the echo's end, must come back.
func portForwardSilent(ctx context.Context, e *env, p Protocol) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fw, err := e.forward(ctx, p, e.pods.main, e.pods.echoPort)
	if err != nil {
		return err
	}
	got, err := echoHalfClosed(ctx, fw.Addr, nil)
	if err != nil {
		return err
	}
	if len(got) != 0 {
		return fmt.Errorf("%d bytes back of none sent", len(got))
	}
	return nil
}

// echoHalfClosed sends sent through addr, half-closes, and reads until the
// end, for up to 30 s.
func echoHalfClosed(ctx context.Context, addr string, sent []byte) ([]byte, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(sent)
		if err == nil {
			err = conn.(*net.TCPConn).CloseWrite()
		}
		wrote <- err
	}()
	got, err := io.ReadAll(conn)
	if werr := <-wrote; werr != nil {
		return got, fmt.Errorf("send %d bytes and half-close: %w", len(sent), werr)
	}
	if err != nil {
		return got, fmt.Errorf("read the echo of %d bytes, then its end: %w", len(sent), err)
	}
	return got, nil
}

// portForwardPodDeleted deletes the pod under an open forwarded
// connection: the connection must end, and a new one through the forward
// too, rather than hang.
func portForwardPodDeleted(ctx context.Context, e *env, p Protocol) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pod := e.pods.doomed[p]
	fw, err := e.forward(ctx, p, pod, e.pods.doomedPort[p])
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", fw.Addr, 10*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 5)
	if _, err := conn.Write([]byte("ping\n")); err != nil {
		return err
	}
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping\n" {
		return fmt.Errorf("echo before the deletion: %q, %v", buf, err)
	}
	if err := e.deletePod(ctx, pod); err != nil {
		return err
	}
	if err := endsWithin(conn, 30*time.Second); err != nil {
		return fmt.Errorf("the open connection, once the pod was deleted: %w", err)
	}
	if err := e.waitGone(ctx, pod); err != nil {
		return err
	}
	again, err := net.DialTimeout("tcp", fw.Addr, 10*time.Second)
	if err != nil {
		return nil // the forward has ended: fine
	}
	defer again.Close()
	_, _ = again.Write([]byte("ping\n"))
	if err := endsWithin(again, 10*time.Second); err != nil {
		return fmt.Errorf("a new connection to the deleted pod: %w", err)
	}
	return nil
}

// endsWithin reads conn until it ends (EOF, a reset) within d.
func endsWithin(conn net.Conn, d time.Duration) error {
	_ = conn.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, conn)
	var timeout net.Error
	if errors.As(err, &timeout) && timeout.Timeout() {
		return fmt.Errorf("still open %v later", d)
	}
	return nil
}
