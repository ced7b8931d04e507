package streaming

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/portforward"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
)

// portStream is a data or error stream of a port-forward, with its port
// and the channel the connection closes once it has acknowledged it.
type portStream struct {
	httpstream.Stream
	port      int32
	replySent <-chan struct{}
}

// streamPair is the data and error stream of one forwarded connection,
// matched by the client's requestID header.
type streamPair struct {
	requestID   string
	port        int32
	data        httpstream.Stream
	errorStream httpstream.Stream
	replies     []<-chan struct{}
	timer       *time.Timer
}

// servePortForwardSPDY serves the portforward.k8s.io protocol, as
// cri-streaming's portforward/httpstream.go: one SPDY connection carries
// any number of forwarded connections, each a pair of streams.
func (s *Server) servePortForwardSPDY(w http.ResponseWriter, r *http.Request, sandboxID string) {
	if _, err := handshake(w, r, []string{portforward.PortForwardV1Name}); err != nil {
		s.log.Info("Port forward not started", "err", err)
		return
	}
	arrived := make(chan portStream)
	stop := make(chan struct{})
	conn := spdy.NewResponseUpgrader().UpgradeResponse(spdyResponse{w}, r, func(st httpstream.Stream, replySent <-chan struct{}) error {
		port, err := checkPortStream(st.Headers())
		if err != nil {
			return err
		}
		select {
		case arrived <- portStream{st, port, replySent}:
			return nil
		case <-stop:
			return errors.New("port-forward connection closing")
		}
	})
	if conn == nil {
		return // the upgrader has answered
	}
	conn.SetIdleTimeout(s.cfg.StreamIdleTimeout)
	forget, ok := s.conns.Add(conn)
	if !ok {
		_ = conn.Close()
		return
	}
	ctx, cancel := untilClosed(r.Context(), conn.CloseChan())
	streamsReady(ctx, portforward.PortForwardV1Name, "spdy")

	var forwards sync.WaitGroup
	s.pairStreams(ctx, conn, arrived, func(p *streamPair) {
		forwards.Go(func() {
			defer conn.RemoveStreams(p.data, p.errorStream)
			if !p.acknowledged(ctx) {
				return
			}
			if err := s.forwardPort(ctx, sandboxID, p.port, p.data, p.errorStream); err != nil {
				// As upstream: reset both, so the client may retry with new streams.
				_ = p.data.Reset()
				_ = p.errorStream.Reset()
			}
			_ = p.data.Close()
			_ = p.errorStream.Close()
		})
	})
	close(stop)
	_ = conn.Close()
	forget()
	cancel()
	forwards.Wait()
}

// pairStreams matches arriving streams into pairs until ctx ends, and calls
// forward with each complete pair. A pair not complete within the stream
// creation timeout is dropped, with an error on its error stream.
func (s *Server) pairStreams(ctx context.Context, conn httpstream.Connection, arrived <-chan portStream, forward func(*streamPair)) {
	pending := make(map[string]*streamPair)
	expired := make(chan *streamPair)
	for {
		select {
		case <-ctx.Done():
			for _, p := range pending {
				p.timer.Stop()
			}
			return

		case st := <-arrived:
			id := requestID(st)
			p := pending[id]
			if p == nil {
				p = &streamPair{requestID: id}
				p.timer = time.AfterFunc(s.cfg.StreamCreationTimeout, func() {
					select {
					case expired <- p:
					case <-ctx.Done():
					}
				})
				pending[id] = p
			}
			if err := p.add(st); err != nil {
				err = fmt.Errorf("error processing stream for request %s: %w", id, err)
				s.log.Info("Port forward stream rejected", "err", err)
				p.printError(err.Error())
				_ = st.Reset()
				continue
			}
			if p.data != nil && p.errorStream != nil {
				p.timer.Stop()
				delete(pending, id)
				forward(p)
			}

		case p := <-expired:
			if pending[p.requestID] != p {
				continue // completed meanwhile
			}
			delete(pending, p.requestID)
			err := fmt.Errorf("(conn=%p, request=%s) timed out waiting for streams", conn, p.requestID)
			s.log.Info("Port forward stream pair incomplete", "err", err)
			p.printError(err.Error())
			p.reset()
			conn.RemoveStreams(p.data, p.errorStream)
		}
	}
}

// acknowledged waits until the connection has replied to both streams,
// and reports false if ctx ends first. A reset that overtook a reply would
// fail the client's CreateStream instead of showing it the error.
func (p *streamPair) acknowledged(ctx context.Context) bool {
	for _, sent := range p.replies {
		select {
		case <-sent:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// add puts st in its place in the pair.
func (p *streamPair) add(st portStream) error {
	switch st.Headers().Get(v1.StreamType) {
	case v1.StreamTypeError:
		if p.errorStream != nil {
			return errors.New("error stream already assigned")
		}
		p.errorStream = st.Stream
	case v1.StreamTypeData:
		if p.data != nil {
			return errors.New("data stream already assigned")
		}
		p.data = st.Stream
		p.port = st.port // the data stream's port is the one forwarded
	}
	p.replies = append(p.replies, st.replySent)
	return nil
}

// printError writes msg on the pair's error stream, if it has one yet.
func (p *streamPair) printError(msg string) {
	if p.errorStream != nil {
		_, _ = fmt.Fprint(p.errorStream, msg)
	}
}

// reset resets whichever streams the pair has.
func (p *streamPair) reset() {
	for _, st := range []httpstream.Stream{p.data, p.errorStream} {
		if st != nil {
			_ = st.Reset()
		}
	}
}

// checkPortStream validates the headers of a new port-forward stream and
// returns its port; a stream it refuses is reset (upstream's
// httpStreamReceived).
func checkPortStream(h http.Header) (int32, error) {
	portString := h.Get(v1.PortHeader)
	if portString == "" {
		return 0, fmt.Errorf("%q header is required", v1.PortHeader)
	}
	port, err := strconv.ParseUint(portString, 10, 16)
	if err != nil {
		return 0, fmt.Errorf("unable to parse %q as a port: %w", portString, err)
	}
	if port < 1 {
		return 0, fmt.Errorf("port %q must be > 0", portString)
	}
	switch typ := h.Get(v1.StreamType); typ {
	case v1.StreamTypeData, v1.StreamTypeError:
	case "":
		return 0, fmt.Errorf("%q header is required", v1.StreamType)
	default:
		return 0, fmt.Errorf("invalid stream type %q", typ)
	}
	return int32(port), nil
}

// requestID returns the pair a stream belongs to: its requestID header.
// Clients before that header create the error stream and then the data
// stream, so their IDs are consecutive odd numbers; upstream pairs them by
// that, best effort, and so does this.
func requestID(st portStream) string {
	if id := st.Headers().Get(v1.PortForwardRequestIDHeader); id != "" {
		return id
	}
	if st.Headers().Get(v1.StreamType) == v1.StreamTypeData {
		return strconv.Itoa(int(st.Identifier()) - 2)
	}
	return strconv.Itoa(int(st.Identifier()))
}
