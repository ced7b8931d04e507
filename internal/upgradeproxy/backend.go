package upgradeproxy

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"syscall"
)

// DialFunc is http.Transport's DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dial returns dial with its connections made backend connections: once a
// write finds the backend gone, it and every later write succeed without
// sending. Reads are unchanged, so the session ends when the backend's last
// byte has been read and passed on. Wrap the plain TCP dial, beneath any
// TLS, so that TLS never sees the failed write either.
func Dial(dial DialFunc) DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &backendConn{Conn: c}, nil
	}
}

type backendConn struct {
	net.Conn
	gone atomic.Bool
}

func (c *backendConn) Write(p []byte) (int, error) {
	if c.gone.Load() {
		return len(p), nil
	}
	n, err := c.Conn.Write(p)
	if errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNRESET) {
		c.gone.Store(true)
		return len(p), nil
	}
	return n, err
}
