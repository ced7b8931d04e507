package tracing

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Hop is one session at a proxy hop (the apiserver, the kubelet): it
// watches the client's connection once the hop has handed it over to the
// session, counting the bytes each way and reading the upgrade answer the
// hop wrote first, without touching the bytes.
type Hop struct {
	span trace.Span
	// from answered the upgrade (the next hop, or this one when it
	// translates) and to is the hop the answer goes back to.
	from, to string
	live     *Live

	in, out   atomic.Int64
	upgraded  sync.Once
	clientEOF atomic.Bool
	protocol  atomic.Value // string
}

// NewHop watches a session whose span is span, whose upgrade answer comes
// from the hop from (the next hop, or this one when it translates) and goes
// back to the hop to; live, if not nil, gets the byte counts as they move.
func NewHop(span trace.Span, from, to string, live *Live) *Hop {
	return &Hop{span: span, from: from, to: to, live: live}
}

// AnsweredBy says that the upgrade answer comes from hop after all: an
// apiserver that followed a kubelet's redirect hears from the streaming
// server. Call it before the answer is written.
func (h *Hop) AnsweredBy(hop string) { h.from = hop }

// Wrap is for httpserver.Recorder.WrapHijacked.
func (h *Hop) Wrap(c net.Conn) net.Conn { return &hopConn{Conn: c, hop: h} }

// Protocol is the protocol the upgrade answer named, once there was one.
func (h *Hop) Protocol() string {
	p, _ := h.protocol.Load().(string)
	return p
}

// End records the bytes and why the session ended at this hop; reason
// may be empty, and then says which side ended it, when that is known.
func (h *Hop) End(reason string) {
	if reason == "" && h.clientEOF.Load() {
		reason = "client closed"
	}
	attrs := []attribute.KeyValue{AttrBytesIn.Int64(h.in.Load()), AttrBytesOut.Int64(h.out.Load())}
	if reason != "" {
		attrs = append(attrs, AttrReason.String(reason))
	}
	h.span.SetAttributes(attrs...)
	h.span.AddEvent(PhaseClosed, trace.WithAttributes(attrs...))
}

// upgradeSeen reads the upgrade answer at the start of what the hop first
// wrote to the client: its status, protocol and transport.
func (h *Hop) upgradeSeen(p []byte) {
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(p)), nil)
	if err != nil {
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return
	}
	proto, transport := UpgradeProtocol(resp.Header)
	h.protocol.Store(proto)
	attrs := []attribute.KeyValue{AttrFrom.String(h.from), AttrTo.String(h.to), AttrProtocol.String(proto), AttrTransport.String(transport), responseAttr(resp)}
	h.span.SetAttributes(AttrProtocol.String(proto), AttrTransport.String(transport))
	h.span.AddEvent(PhaseUpgraded, trace.WithAttributes(attrs...))
}

// UpgradeProtocol names the protocol and transport an upgrade answer (or
// request) carries: SPDY's X-Stream-Protocol-Version, or WebSocket's
// subprotocol ("" for none, which means channel.k8s.io).
func UpgradeProtocol(h http.Header) (protocol, transport string) {
	switch up := strings.ToLower(h.Get("Upgrade")); {
	case strings.HasPrefix(up, "spdy/"):
		return h.Get("X-Stream-Protocol-Version"), "spdy"
	case up == "websocket":
		return h.Get("Sec-WebSocket-Protocol"), "websocket"
	default:
		return "", up
	}
}

type hopConn struct {
	net.Conn
	hop *Hop
}

func (c *hopConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.hop.in.Add(int64(n))
	if c.hop.live != nil {
		c.hop.live.In.Add(int64(n))
	}
	if err == io.EOF {
		c.hop.clientEOF.Store(true)
	}
	return n, err
}

func (c *hopConn) Write(p []byte) (int, error) {
	c.hop.upgraded.Do(func() { c.hop.upgradeSeen(p) })
	n, err := c.Conn.Write(p)
	c.hop.out.Add(int64(n))
	if c.hop.live != nil {
		c.hop.live.Out.Add(int64(n))
	}
	return n, err
}

// MaskToken hides the one-time token of a streaming URL, which is a
// credential until used: http://127.0.0.1:PORT/exec/******** .
func MaskToken(rawURL string) string {
	i := strings.LastIndex(rawURL, "/")
	if i < 0 || i == len(rawURL)-1 {
		return rawURL
	}
	return rawURL[:i+1] + strings.Repeat("*", len(rawURL)-i-1)
}
