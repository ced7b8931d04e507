package tracing

import (
	"bytes"
	"context"
	"net"
	"net/http"

	"go.opentelemetry.io/otel/propagation"
)

// Inject puts ctx's trace context into h as a traceparent header: how a
// proxy hop passes the trace on with the request it forwards (the
// UpgradeAwareHandler copies the client's headers).
func Inject(ctx context.Context, h http.Header) {
	Propagator.Inject(ctx, propagation.HeaderCarrier(h))
}

// Extract is the trace context a request carries.
func Extract(ctx context.Context, h http.Header) context.Context {
	return Propagator.Extract(ctx, propagation.HeaderCarrier(h))
}

// Transport puts the trace context of each request's context into its
// headers, for the requests a hop makes itself rather than forwards (the
// stream translator's SPDY client). It unwraps for
// k8s.io/apimachinery's utilnet.DialerFor, which UpgradeAwareHandler dials
// with.
func Transport(rt http.RoundTripper) http.RoundTripper { return &transport{rt} }

type transport struct{ rt http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	Inject(req.Context(), req.Header)
	return t.rt.RoundTrip(req)
}

func (t *transport) WrappedRoundTripper() http.RoundTripper { return t.rt }

// InjectOnDial wraps a dial function so that each connection it makes puts
// the dialling context's traceparent into the first request head written
// on it, unless the request has one. It is for HTTP/1.1 clients that write
// their request themselves and take no headers from their caller, such as
// the stream translator's SPDY client; dial must return the
// connection the request is written on in the clear (TLS done by dial).
func InjectOnDial(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		h := http.Header{}
		Inject(ctx, h)
		tp := h.Get("traceparent")
		if tp == "" {
			return c, nil
		}
		return &injectingConn{Conn: c, line: "traceparent: " + tp + "\r\n"}, nil
	}
}

// injectingConn inserts line after the request line of the first request
// written on it.
type injectingConn struct {
	net.Conn
	line string
	head []byte // the request line, while it is incomplete
	done bool
}

func (c *injectingConn) Write(p []byte) (int, error) {
	if c.done {
		return c.Conn.Write(p)
	}
	c.head = append(c.head, p...)
	i := bytes.Index(c.head, []byte("\r\n"))
	if i < 0 {
		return len(p), nil
	}
	c.done = true
	out := c.head
	if !bytes.Contains(bytes.ToLower(c.head), []byte("\r\ntraceparent:")) {
		out = make([]byte, 0, len(c.head)+len(c.line))
		out = append(append(append(out, c.head[:i+2]...), c.line...), c.head[i+2:]...)
	}
	c.head = nil
	if _, err := c.Conn.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}
