package streaming

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// Over SPDY/3.1 the client creates one stream per purpose, named by its
// streamType header; this transport's work is to wait for them.

// newStream is a stream the client created, with the channel the SPDY
// connection closes once it has acknowledged the stream.
type newStream struct {
	httpstream.Stream
	replySent <-chan struct{}
}

// openSPDY negotiates the protocol version (refusing with 400 or 403, as
// upstream), upgrades the connection to SPDY/3.1 and
// waits for the client's streams, as cri-streaming's
// remotecommand/httpstream.go createHTTPStreamStreams.
func (s *Server) openSPDY(w http.ResponseWriter, r *http.Request, opts streamOptions) (*remoteCommand, error) {
	name, err := handshake(w, r, protocolNames(spdyProtocols))
	if err != nil {
		return nil, err
	}
	proto, _ := findProtocol(spdyProtocols, name)
	want := wantedStreams(proto, opts)

	arrived := make(chan newStream)
	setUp := make(chan struct{})
	defer close(setUp)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(spdyResponse{w}, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		typ := st.Headers().Get(v1.StreamType)
		if !want[typ] {
			return fmt.Errorf("unexpected stream type %q for protocol %q", typ, proto.name)
		}
		select {
		case arrived <- newStream{st, replySent}:
			return nil
		case <-setUp: // a stream too many, or too late
			return fmt.Errorf("unexpected %s stream after set-up", typ)
		}
	})
	if conn == nil {
		return nil, errors.New("SPDY upgrade failed") // the upgrader has answered
	}
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	forget, ok := s.conns.Add(conn)
	if !ok {
		_ = conn.Close()
		return nil, errServerClosed
	}

	streams, err := awaitStreams(arrived, len(want), s.cfg.StreamCreationTimeout, conn.CloseChan())
	if err != nil {
		_ = conn.Close()
		forget()
		return nil, err
	}
	if proto.v1Quirks {
		_ = streams[v1.StreamTypeError].Reset()
		if stdin := streams[v1.StreamTypeStdin]; stdin != nil {
			_ = stdin.Close()
		}
	}

	rc := &remoteCommand{
		proto:       proto,
		stdin:       streams[v1.StreamTypeStdin],
		stdout:      streams[v1.StreamTypeStdout],
		stderr:      streams[v1.StreamTypeStderr],
		errorStream: streams[v1.StreamTypeError],
		resize:      streams[v1.StreamTypeResize],
		conn:        conn,
		forget:      forget,
	}
	rc.ctx, rc.cancel = untilClosed(r.Context(), conn.CloseChan())
	return rc, nil
}

// wantedStreams are the stream types the client must create: the error
// stream always, the standard streams the request granted, and the resize
// stream with a TTY on versions that have it.
func wantedStreams(p protocol, opts streamOptions) map[string]bool {
	want := map[string]bool{v1.StreamTypeError: true}
	if opts.stdin {
		want[v1.StreamTypeStdin] = true
	}
	if opts.stdout {
		want[v1.StreamTypeStdout] = true
	}
	if opts.stderr {
		want[v1.StreamTypeStderr] = true
	}
	if opts.tty && p.resize {
		want[v1.StreamTypeResize] = true
	}
	return want
}

// awaitStreams collects count streams of distinct types, then waits until
// the connection has acknowledged each, so that no reply can trail the
// goaway of a command that ends at once. All within the stream creation
// timeout.
func awaitStreams(arrived <-chan newStream, count int, timeout time.Duration, closed <-chan bool) (map[string]httpstream.Stream, error) {
	expired := time.NewTimer(timeout)
	defer expired.Stop()
	errTimeout := errors.New("timed out waiting for client to create streams")
	errClosed := errors.New("connection closed while waiting for client to create streams")

	streams := make(map[string]httpstream.Stream, count)
	replies := make([]<-chan struct{}, 0, count)
	for len(streams) < count {
		select {
		case st := <-arrived:
			typ := st.Headers().Get(v1.StreamType)
			if streams[typ] != nil {
				_ = st.Reset()
				continue
			}
			streams[typ] = st.Stream
			replies = append(replies, st.replySent)
		case <-expired.C:
			return nil, errTimeout
		case <-closed:
			return nil, errClosed
		}
	}
	for _, sent := range replies {
		select {
		case <-sent:
		case <-expired.C:
			return nil, errTimeout
		case <-closed:
			return nil, errClosed
		}
	}
	return streams, nil
}
