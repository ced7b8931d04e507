package streaming

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzDecodeResizes feeds the resize stream decoder arbitrary bytes: it
// must not panic, and the sizes it accepts must survive a round trip.
func FuzzDecodeResizes(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var sizes []TerminalSize
		_ = decodeResizes(bytes.NewReader(data), func(size TerminalSize) bool {
			sizes = append(sizes, size)
			return true
		})
		var encoded bytes.Buffer
		enc := json.NewEncoder(&encoded)
		for _, size := range sizes {
			if err := enc.Encode(size); err != nil {
				t.Fatal(err)
			}
		}
		var again []TerminalSize
		err := decodeResizes(&encoded, func(size TerminalSize) bool {
			again = append(again, size)
			return true
		})
		if err != nil || !reflect.DeepEqual(again, sizes) {
			t.Fatalf("round trip of %v: got %v, %v", sizes, again, err)
		}
	})
}

// stdinRecorder is a Runtime whose Exec reports all it read on stdin.
type stdinRecorder struct{ stdin chan []byte }

func (r stdinRecorder) Exec(_ context.Context, _ string, _ []string, s Streams) error {
	data, err := io.ReadAll(s.Stdin)
	r.stdin <- data
	return err
}

func (stdinRecorder) Attach(context.Context, string, Streams) error {
	return errors.New("not supported")
}

func (stdinRecorder) PortForward(context.Context, string, int32, io.ReadWriteCloser) error {
	return errors.New("not supported")
}

// FuzzWebSocketFrame sends one arbitrary message to a WebSocket exec
// session, then ends stdin (v5's CLOSE, or by hanging up before v5), and
// checks what reached the command's stdin against the channel protocol:
// a message on channel 0 (ASCII '0' then base64 for the base64 variants)
// is stdin data; anything else is not.
func FuzzWebSocketFrame(f *testing.F) {
	rec := stdinRecorder{stdin: make(chan []byte, 1)}
	s := newTestServer(f, rec)
	f.Fuzz(func(t *testing.T, protocolIndex uint8, message []byte) {
		p := webSocketProtocols[int(protocolIndex)%len(webSocketProtocols)]
		url := mustURL(s.GetExec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"record"}, Stdin: true, Stdout: true}))
		var offer []string
		if p.name != "" {
			offer = []string{p.name}
		}
		c, _, err := dialWebSocket(t, url, offer...)
		if err != nil {
			t.Fatal(err)
		}
		// Wait for the session to start: a client that hangs up at once
		// may leave wsstream's Open unsure that it ever did.
		if _, _, err := c.conn.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		typ := websocket.BinaryMessage
		if p.base64 {
			typ = websocket.TextMessage
		}
		if err := c.conn.WriteMessage(typ, message); err != nil {
			t.Fatal(err)
		}
		if p.name == "v5.channel.k8s.io" {
			// The server may have hung up on a malformed CLOSE already.
			_ = c.conn.WriteMessage(websocket.BinaryMessage, []byte{255, 0})
		} else {
			c.conn.Close()
		}

		select {
		case got := <-rec.stdin:
			if want := expectedStdin(p, message); !bytes.Equal(got, want) {
				t.Fatalf("protocol %q, message %q: stdin got %q, want %q", p.name, message, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("protocol %q, message %q: stdin never ended", p.name, message)
		}
		c.conn.Close()
	})
}

// expectedStdin is what message, the only one on the connection, puts on
// stdin under protocol p.
func expectedStdin(p protocol, message []byte) []byte {
	if len(message) == 0 {
		return nil
	}
	if p.name == "v5.channel.k8s.io" && message[0] == 255 {
		return nil // a CLOSE signal, or a malformed one: either way no data
	}
	channel, payload := message[0], message[1:]
	if p.base64 {
		channel -= '0'
	}
	if channel != 0 {
		return nil
	}
	if p.base64 {
		decoded, err := base64.StdEncoding.DecodeString(string(payload))
		if err != nil {
			return nil
		}
		return decoded
	}
	return payload
}

// FuzzTokenLookup presents arbitrary tokens: each must answer a 404
// Status (or a redirect to a cleaned path) and use up no real token.
func FuzzTokenLookup(f *testing.F) {
	s, err := NewServer(Config{}, localRuntime{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	f.Fuzz(func(t *testing.T, token string) {
		resp, err := s.GetExec(context.Background(), &runtimeapi.ExecRequest{ContainerId: "c", Cmd: []string{"true"}, Stdout: true})
		if err != nil {
			t.Fatal(err)
		}
		real := resp.Url[len(s.URL()+"/exec/"):]
		if token == real {
			t.Skip()
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/exec/" + token}, Header: http.Header{}})
		switch w.Code {
		case http.StatusNotFound:
			var st metav1.Status
			if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound {
				t.Fatalf("token %q: got %q, %v; want a NotFound Status", token, w.Body, err)
			}
		case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		default:
			t.Fatalf("token %q: got %d %q, want 404", token, w.Code, w.Body)
		}
		if _, ok := s.tokens.Consume(real); !ok {
			t.Fatalf("token %q used up %q", token, real)
		}
	})
}
