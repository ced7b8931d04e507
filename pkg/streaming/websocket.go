package streaming

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"sync"

	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// Over WebSocket every message starts with a channel byte: 0 stdin,
// 1 stdout, 2 stderr, 3 error, 4 resize (and, in v5, 255 close). wsstream
// does the framing; this transport maps channels to the session's streams.

// openWebSocket upgrades the connection to WebSocket with the subprotocol
// the client asks for (wsstream answers 403 to one it does not know), as
// cri-streaming's remotecommand/websocket.go createWebSocketStreams.
func (s *Server) openWebSocket(w http.ResponseWriter, r *http.Request, opts streamOptions) (*remoteCommand, error) {
	channels := make([]wsstream.ChannelType, remotecommand.StreamResize+1)
	channels[remotecommand.StreamStdIn] = channelType(opts.stdin, wsstream.ReadChannel)
	channels[remotecommand.StreamStdOut] = channelType(opts.stdout, wsstream.WriteChannel)
	channels[remotecommand.StreamStdErr] = channelType(opts.stderr, wsstream.WriteChannel)
	channels[remotecommand.StreamErr] = wsstream.WriteChannel
	// Upstream always reads channel 4; without a TTY nobody would consume
	// the sizes, and a blocked channel stalls every other one, so ignore it.
	channels[remotecommand.StreamResize] = channelType(opts.tty, wsstream.ReadChannel)

	configs := make(map[string]wsstream.ChannelProtocolConfig, len(webSocketProtocols))
	for _, p := range webSocketProtocols {
		configs[p.name] = wsstream.ChannelProtocolConfig{Binary: !p.base64, Channels: channels}
	}
	conn := wsstream.NewConn(configs)
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	hw := newHijackNotifier(w)
	name, streams, err := conn.Open(hw, r)
	if err != nil {
		return nil, fmt.Errorf("unable to upgrade websocket connection: %w", err)
	}
	forget, ok := s.conns.Add(conn)
	if !ok {
		_ = conn.Close()
		return nil, errServerClosed
	}
	proto, _ := findProtocol(webSocketProtocols, name)

	// Tell the client the session is up: an empty message on the lowest
	// channel it reads, as upstream.
	switch {
	case opts.stdout:
		_, _ = streams[remotecommand.StreamStdOut].Write(nil)
	case opts.stderr:
		_, _ = streams[remotecommand.StreamStdErr].Write(nil)
	default:
		_, _ = streams[remotecommand.StreamErr].Write(nil)
	}

	rc := &remoteCommand{
		proto:       proto,
		errorStream: streams[remotecommand.StreamErr],
		conn:        conn,
		forget:      forget,
	}
	if opts.stdin {
		rc.stdin = streams[remotecommand.StreamStdIn]
	}
	if opts.stdout {
		rc.stdout = streams[remotecommand.StreamStdOut]
	}
	if opts.stderr {
		rc.stderr = streams[remotecommand.StreamStdErr]
	}
	if opts.tty {
		rc.resize = streams[remotecommand.StreamResize]
	}
	rc.ctx, rc.cancel = untilClosed(r.Context(), hw.closed)
	return rc, nil
}

// channelType is t for a stream the request granted, else IgnoreChannel:
// wsstream drops what the client sends on it.
func channelType(granted bool, t wsstream.ChannelType) wsstream.ChannelType {
	if granted {
		return t
	}
	return wsstream.IgnoreChannel
}

// hijackNotifier is a ResponseWriter whose hijacked connection closes
// closed when it is closed. wsstream closes the connection when its reader
// ends (the client went away, a read failed or the idle timeout passed) but
// says so to nobody else.
type hijackNotifier struct {
	http.ResponseWriter
	closed chan struct{}
	once   sync.Once
}

func newHijackNotifier(w http.ResponseWriter) *hijackNotifier {
	return &hijackNotifier{ResponseWriter: w, closed: make(chan struct{})}
}

// Hijack hijacks the underlying connection, looking through wrappers of
// the ResponseWriter as upstream's httpresponse.GetOriginal does.
func (h *hijackNotifier) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &notifyingConn{Conn: conn, h: h}, rw, nil
}

type notifyingConn struct {
	net.Conn
	h *hijackNotifier
}

func (c *notifyingConn) Close() error {
	err := c.Conn.Close()
	c.h.once.Do(func() { close(c.h.closed) })
	return err
}
