package faults

import (
	"bytes"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	v1 "k8s.io/api/core/v1"
)

// conn applies the faults of a connection (frame-delay, close-after,
// reset-after, stall) to the connection a hop hijacked, both ways: it reads
// the hop's answer (the head it writes first) and, if that is a 101, the
// frames that follow it (frames), and acts at the pieces they are made of.
// Its Read is what the client sent, its Write what goes to the client.
type conn struct {
	net.Conn
	faults Set
	in     side
	out    side
	// refused is set when the answer was no 101: nothing is framed.
	refused atomic.Bool
	// closed is closed once the connection is closed or its client gone.
	closed    chan struct{}
	closeOnce sync.Once
}

// side is one direction's state. Read and Write are each called by one
// goroutine at a time; mu guards against a hop that does otherwise.
type side struct {
	mu     sync.Mutex
	out    bool
	frames *frames
	// head collects the answer's head (out only) until its blank line,
	// unless the hop wrote it before it hijacked the connection (as the
	// upgraders of k8s.io/streaming do): then frames come first.
	head     []byte
	headDone bool
	// count is, per fault, the bytes counted so far.
	count   []int64
	stalled bool
	// delay is a pause owed before the next Read returns more; pending
	// and pendingErr what that Read returns.
	delay      time.Duration
	pending    []byte
	pendingErr error
}

// maxHead bounds the answer's head read; beyond it the connection passes
// untouched.
const maxHead = 64 << 10

// newConn wraps c, which the hop hijacked to answer r, a session of kind.
// Both ways are framed from the start: a client sends nothing before its
// 101, and a hop that answers otherwise (a proxy passing a refusal on)
// writes that answer first, which readHead sees.
func newConn(c net.Conn, faults Set, r *http.Request, kind string) *conn {
	names := &streamNames{}
	websocket, portForward := transportOf(r) == "websocket", kind == "portforward"
	fc := &conn{Conn: c, faults: faults, closed: make(chan struct{})}
	fc.in = side{count: make([]int64, len(faults)), frames: &frames{websocket: websocket, portForward: portForward, names: names, decode: true}}
	fc.out = side{out: true, count: make([]int64, len(faults)), frames: &frames{websocket: websocket, portForward: portForward, names: names}}
	return fc
}

// Write passes what the hop writes to the client, acting where a fault
// says: a pause, a stall, a cut.
func (c *conn) Write(p []byte) (int, error) {
	s := &c.out
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled {
		return c.swallow(p)
	}
	if c.refused.Load() {
		return c.Conn.Write(p)
	}
	w := &partialWriter{conn: c.Conn, p: p}
	i := 0
	if !s.headDone {
		i = c.readHead(p)
		if !s.headDone || c.refused.Load() {
			return w.flushAll()
		}
		// A cut after 0 bytes of the connection comes right after the head.
		if d := c.decide(s, piece{}); d.cut != nil {
			return c.cutAt(w, i, d.cut)
		}
	}
	for i < len(p) {
		start := i
		pc := s.frames.next(p[i:])
		i += pc.n
		d := c.decide(s, pc)
		switch {
		case d.cut != nil:
			return c.cutAt(w, start+d.at, d.cut)
		case d.delay > 0 || d.stall:
			if err := w.flush(i); err != nil {
				return w.n, err
			}
			if d.delay > 0 && !c.sleep(d.delay) {
				return w.n, net.ErrClosed
			}
			if d.stall {
				s.stalled = true
				return c.swallow(p)
			}
		}
	}
	return w.flushAll()
}

// swallow takes p and sends nothing, as a path that delivers nothing more:
// the hop writing goes on (a blocked write would also stop the hop reading
// its client, which a kernel's buffer does not), until the connection is
// closed or its client gone.
func (c *conn) swallow(p []byte) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
		return len(p), nil
	}
}

// readHead takes the answer's head out of p, up to its blank line, and
// returns how much of p it was; an answer other than 101 is passed on
// untouched, and so is all that follows. What is no head (a frame) means
// the hop wrote its 101 before it hijacked the connection.
func (c *conn) readHead(p []byte) int {
	s := &c.out
	if len(s.head) == 0 && len(p) > 0 && !bytes.HasPrefix(p, []byte("HTTP/")[:min(len(p), 5)]) {
		s.headDone = true
		return 0
	}
	seen := len(s.head)
	s.head = append(s.head, p...)
	end := bytes.Index(s.head, []byte("\r\n\r\n"))
	if end < 0 {
		if len(s.head) > maxHead {
			s.head, s.headDone = nil, true
			c.refused.Store(true)
		}
		return len(p)
	}
	end += 4
	s.headDone = true
	if !bytes.HasPrefix(s.head, []byte("HTTP/1.1 101 ")) {
		c.refused.Store(true)
	}
	s.head = nil
	return end - seen
}

// Read passes what the client sent to the hop, acting where a fault says.
func (c *conn) Read(p []byte) (int, error) {
	s := &c.in
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stalled {
		<-c.closed
		return 0, net.ErrClosed
	}
	if s.delay > 0 {
		d := s.delay
		s.delay = 0
		if !c.sleep(d) {
			return 0, net.ErrClosed
		}
	}
	var n int
	var err error
	if len(s.pending) > 0 {
		n = copy(p, s.pending)
		s.pending = s.pending[n:]
		if len(s.pending) == 0 {
			err, s.pendingErr = s.pendingErr, nil
		}
	} else {
		n, err = c.Conn.Read(p)
		if err != nil {
			// The client is gone: a stalled or pausing write towards it
			// fails, as the kernel's would once the peer resets.
			c.closeOnce.Do(func() { close(c.closed) })
		}
	}
	if c.refused.Load() {
		return n, err
	}
	for i := 0; i < n; {
		start := i
		pc := s.frames.next(p[i:n])
		i += pc.n
		d := c.decide(s, pc)
		if d.cut != nil {
			c.cut(*d.cut)
			return start + d.at, nil
		}
		if d.delay > 0 || d.stall {
			if i < n {
				s.pending = append(bytes.Clone(p[i:n]), s.pending...)
				s.pendingErr, err = err, nil
			}
			s.delay, s.stalled = d.delay, d.stall
			return i, err
		}
	}
	return n, err
}

// decision is what the faults want done once a piece has passed: a pause,
// a stall, or a cut at bytes at of the piece.
type decision struct {
	delay time.Duration
	stall bool
	cut   *Fault
	at    int
}

// decide counts pc for each fault of s's direction and says what they
// want done. A fault on "any" acts at frame starts and counts every byte
// towards the client; one on a named stream acts once the frame's stream is
// known and counts that stream's payload, cutting at the end of the frame
// that reaches its count.
func (c *conn) decide(s *side, pc piece) decision {
	var d decision
	for k := range c.faults {
		f := &c.faults[k]
		stream := f.param("stream")
		if !flows(stream, s.out) {
			continue
		}
		every := stream == "any"
		mine := every || stream == pc.stream
		switch f.Name {
		case "frame-delay":
			if every && pc.start || !every && mine && pc.named {
				d.delay += f.duration("d")
			}
		case "stall":
			if (every && pc.start || !every && mine && pc.named) && s.count[k] >= f.bytes("after") {
				d.stall = true
			}
			if every || mine && pc.payload {
				s.count[k] += int64(pc.n)
			}
		case "close-after", "reset-after":
			limit := f.bytes("bytes")
			switch {
			case every:
				if d.cut == nil && s.count[k]+int64(pc.n) >= limit {
					d.cut, d.at = f, int(limit-s.count[k])
				}
				s.count[k] += int64(pc.n)
			case mine:
				if pc.payload {
					s.count[k] += int64(pc.n)
				}
				if d.cut == nil && pc.end && s.count[k] >= limit {
					d.cut, d.at = f, pc.n
				}
			}
		}
	}
	return d
}

// flows reports whether frames of stream pass in the direction out (to
// the client) or in: "any" counts only what goes to the client.
func flows(stream string, out bool) bool {
	switch stream {
	case v1.StreamTypeStdin, v1.StreamTypeResize, "close":
		return !out
	case "data":
		return true
	}
	return out
}

// cutAt writes p up to end, then cuts the connection as f says.
func (c *conn) cutAt(w *partialWriter, end int, f *Fault) (int, error) {
	if err := w.flush(end); err != nil {
		return w.n, err
	}
	c.cut(*f)
	return w.n, net.ErrClosed
}

// cut ends the connection: a close (FIN), or for reset-after a reset.
func (c *conn) cut(f Fault) {
	if f.Name == "reset-after" {
		if tcp := tcpConn(c.Conn); tcp != nil {
			// No linger: close sends an RST, not a FIN.
			_ = tcp.SetLinger(0)
			_ = tcp.Close()
		}
	}
	_ = c.Close()
}

// tcpConn finds the TCP connection under c, through TLS and the wrappers
// of a hijacked connection (NetConn).
func tcpConn(c net.Conn) *net.TCPConn {
	for {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// sleep waits d, or less if the connection closes; it reports whether the
// connection is still open.
func (c *conn) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.closed:
		return false
	}
}

func (c *conn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// NetConn is the connection wrapped, for tcpConn.
func (c *conn) NetConn() net.Conn { return c.Conn }

// partialWriter writes a prefix of p at a time.
type partialWriter struct {
	conn net.Conn
	p    []byte
	n    int
}

func (w *partialWriter) flush(end int) error {
	if end <= w.n {
		return nil
	}
	n, err := w.conn.Write(w.p[w.n:end])
	w.n += n
	return err
}

func (w *partialWriter) flushAll() (int, error) {
	err := w.flush(len(w.p))
	return w.n, err
}
