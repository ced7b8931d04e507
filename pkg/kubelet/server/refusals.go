package server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/execlab/execlab/internal/upgradeproxy"
	"github.com/execlab/execlab/pkg/streaming"
)

// runtimeTransport is what UpgradeAwareHandler dials the runtime's streaming
// server with. Upstream's streaming server (containerd's) refuses an upgrade
// in plain text, which UpgradeAwareHandler copies to the client as it is;
// these connections turn such a refusal into a metav1.Status with the same
// code, so that every refusal a client gets through this kubelet is a
// Status, as fake-cri's and the apiserver's are. They are upgradeproxy's
// backend connections too, so that a session ends with the runtime's last
// byte passed on.
var runtimeTransport = &http.Transport{DialContext: dialStreaming}

var dialBackend = upgradeproxy.Dial((&net.Dialer{}).DialContext)

func dialStreaming(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := dialBackend(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &refusalConn{Conn: c}, nil
}

// refusalConn reads the runtime's response head at the first Read. A 101
// and what follows it, or a refusal that is JSON already, pass unchanged;
// a refusal in text is served as a Status, and then EOF.
type refusalConn struct {
	net.Conn
	r io.Reader
}

// maxRefusal bounds the text of a refusal read; upstream's are one line.
const maxRefusal = 4 << 10

func (c *refusalConn) Read(p []byte) (int, error) {
	if c.r == nil {
		c.r = c.response()
	}
	return c.r.Read(p)
}

func (c *refusalConn) response() io.Reader {
	// raw keeps every byte read, so that what is not rewritten passes as is.
	var raw bytes.Buffer
	br := bufio.NewReader(io.TeeReader(c.Conn, &raw))
	c.Conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer c.Conn.SetReadDeadline(time.Time{})
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode < http.StatusBadRequest || isJSON(resp.Header) {
		return io.MultiReader(&raw, c.Conn)
	}
	text, err := io.ReadAll(io.LimitReader(resp.Body, maxRefusal))
	if err != nil {
		return io.MultiReader(&raw, c.Conn)
	}
	// Upstream's handshake refusal comes twice (httpstream.Handshake's
	// http.Error, then its caller's): the first line says it all.
	message, _, _ := strings.Cut(strings.TrimSpace(string(text)), "\n")
	body := streaming.StatusBody(resp.StatusCode, message)
	var out bytes.Buffer
	(&http.Response{
		StatusCode: resp.StatusCode, ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "X-Content-Type-Options": {"nosniff"}},
		ContentLength: int64(len(body)),
		Body:          io.NopCloser(bytes.NewReader(body)),
		Close:         true,
	}).Write(&out)
	return &out
}

func isJSON(h http.Header) bool {
	t, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return t == "application/json"
}
