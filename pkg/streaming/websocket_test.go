package streaming

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/execlab/execlab/internal/testutil"
)

// wsClient is a raw WebSocket remotecommand client: it speaks the channel
// framing itself, as non-Go clients do.
type wsClient struct {
	t      testing.TB
	conn   *websocket.Conn
	base64 bool
}

// dialWebSocket opens rawURL (http://...) offering protocols; none at all
// when protocols is empty.
func dialWebSocket(t testing.TB, rawURL string, protocols ...string) (*wsClient, *http.Response, error) {
	t.Helper()
	d := websocket.Dialer{Subprotocols: protocols}
	ctx := testContext(t)
	conn, resp, err := d.DialContext(ctx, "ws"+strings.TrimPrefix(rawURL, "http"), nil)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { conn.Close() })
	context.AfterFunc(ctx, func() { conn.Close() }) // a hung test fails instead
	return &wsClient{t: t, conn: conn, base64: strings.Contains(conn.Subprotocol(), "base64")}, resp, nil
}

// send writes data on channel ch in the negotiated encoding.
func (c *wsClient) send(ch byte, data string) {
	c.t.Helper()
	var err error
	if c.base64 {
		err = c.conn.WriteMessage(websocket.TextMessage, []byte(string('0'+ch)+base64.StdEncoding.EncodeToString([]byte(data))))
	} else {
		err = c.conn.WriteMessage(websocket.BinaryMessage, append([]byte{ch}, data...))
	}
	if err != nil {
		c.t.Fatalf("send on channel %d: %v", ch, err)
	}
}

// wsMessage is one message as the server sent it.
type wsMessage struct {
	typ  int
	data []byte
}

// readAll reads messages until the server closes the connection and
// returns them, with each channel's decoded bytes.
func (c *wsClient) readAll() ([]wsMessage, map[byte]string) {
	c.t.Helper()
	var msgs []wsMessage
	channels := make(map[byte]string)
	for {
		typ, data, err := c.conn.ReadMessage()
		if err != nil {
			var closeErr *websocket.CloseError
			if !errors.As(err, &closeErr) {
				c.t.Fatalf("read: %v", err)
			}
			return msgs, channels
		}
		msgs = append(msgs, wsMessage{typ, data})
		if len(data) == 0 {
			c.t.Fatalf("empty message without a channel")
		}
		ch, payload := data[0], data[1:]
		if c.base64 {
			ch -= '0'
			if payload, err = base64.StdEncoding.DecodeString(string(payload)); err != nil {
				c.t.Fatalf("channel %d: %v", ch, err)
			}
		}
		channels[ch] += string(payload)
	}
}

const (
	exitStatusText = "command terminated with non-zero exit code: exit status 3"
	exitStatusJSON = `{"status":"Failure","message":"command terminated with non-zero exit code: exit status 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}`
)

// TestWebSocketProtocols runs one session per subprotocol with a raw
// client and checks every message the server sends.
func TestWebSocketProtocols(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	for _, tc := range []struct {
		protocol    string
		errorStream string
	}{
		{"", exitStatusText},
		{"channel.k8s.io", exitStatusText},
		{"base64.channel.k8s.io", exitStatusText},
		{"v4.channel.k8s.io", exitStatusJSON},
		{"v4.base64.channel.k8s.io", exitStatusJSON},
		{"v5.channel.k8s.io", exitStatusJSON},
	} {
		t.Run("protocol="+tc.protocol, func(t *testing.T) {
			url := execURL(t, s, false, true, true, true, "sh", "-c", "read x; echo out $x; echo err >&2; exit 3")
			var offer []string
			if tc.protocol != "" {
				offer = []string{tc.protocol}
			}
			c, resp, err := dialWebSocket(t, url, offer...)
			if err != nil {
				t.Fatal(err)
			}
			if got := resp.Header.Values("Sec-WebSocket-Protocol"); strings.Join(got, ",") != tc.protocol {
				t.Errorf("negotiated %q, want %q", got, tc.protocol)
			}
			c.send(0, "hi\n")
			msgs, channels := c.readAll()

			// The first message tells the client the session is up: empty, on stdout.
			first, wantType := "\x01", websocket.BinaryMessage
			if c.base64 {
				first, wantType = "1", websocket.TextMessage
			}
			if len(msgs) == 0 || string(msgs[0].data) != first {
				t.Errorf("first message of %v, want %q", msgs, first)
			}
			for _, m := range msgs {
				if m.typ != wantType {
					t.Errorf("message %q has type %d, want %d", m.data, m.typ, wantType)
				}
			}
			if channels[1] != "out hi\n" || channels[2] != "err\n" || channels[3] != tc.errorStream {
				t.Errorf("got stdout %q, stderr %q, error %q; want %q, %q, %q",
					channels[1], channels[2], channels[3], "out hi\n", "err\n", tc.errorStream)
			}
		})
	}
}

// TestWebSocketCloseSignal ends stdin with v5's CLOSE message [255, 0]:
// the command sees EOF and its output still arrives.
func TestWebSocketCloseSignal(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	c, _, err := dialWebSocket(t, execURL(t, s, false, true, true, false, "wc", "-c"), "v5.channel.k8s.io")
	if err != nil {
		t.Fatal(err)
	}
	c.send(0, "hello")
	if err := c.conn.WriteMessage(websocket.BinaryMessage, []byte{255, 0}); err != nil {
		t.Fatal(err)
	}
	_, channels := c.readAll()
	if strings.TrimSpace(channels[1]) != "5" || channels[3] != `{"status":"Success"}` {
		t.Errorf("got stdout %q, status %q; want 5 and success", channels[1], channels[3])
	}
}

// TestWebSocketResize sends terminal sizes on channel 4. A malformed size
// ends resizing but not the session, as upstream.
func TestWebSocketResize(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	for _, tc := range []struct {
		name, protocol, resize, stdout string
	}{
		{"binary", "v4.channel.k8s.io", `{"Width":100,"Height":40}`, "40 100\r\n"},
		{"base64", "v4.base64.channel.k8s.io", `{"Width":100,"Height":40}`, "40 100\r\n"},
		// The runtime sees the resize channel closed and keeps its default.
		{"malformed", "v4.channel.k8s.io", `{"Width":"wide"}`, "24 80\r\n"},
		{"too large", "v4.channel.k8s.io", `{"Width":70000,"Height":40}`, "24 80\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := dialWebSocket(t, execURL(t, s, true, false, true, false, "stty", "size"), tc.protocol)
			if err != nil {
				t.Fatal(err)
			}
			c.send(4, tc.resize)
			_, channels := c.readAll()
			if channels[1] != tc.stdout || channels[3] != `{"status":"Success"}` {
				t.Errorf("got stdout %q, status %q; want %q and success", channels[1], channels[3], tc.stdout)
			}
		})
	}
}

// TestWebSocketUnknownSubprotocol: wsstream refuses the upgrade with 403,
// on which kubectl falls back to SPDY.
func TestWebSocketUnknownSubprotocol(t *testing.T) {
	testutil.CheckGoroutines(t)
	s := newTestServer(t, localRuntime{})
	_, resp, err := dialWebSocket(t, execURL(t, s, false, false, true, false, "true"), "v9.channel.k8s.io")
	if !errors.Is(err, websocket.ErrBadHandshake) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("got %v, %v; want a 403 handshake failure", resp, err)
	}
	resp.Body.Close()
}
