package streaming

import (
	"bufio"
	"encoding/binary"
	"net"
	"net/http"
	"sync"
)

// spdyResponse is the ResponseWriter a SPDY upgrade hijacks: its connection
// writes each SPDY frame at once. spdystream's framer writes a data frame
// in three writes (two 4-byte header words, then the data) and a control
// frame in one write per field; on a TCP connection without delay each is
// a syscall and a segment that wakes the reader (the kubelet's proxy) for
// 4 bytes.
type spdyResponse struct{ http.ResponseWriter }

// Hijack hijacks the underlying connection, looking through wrappers of
// the ResponseWriter.
func (w spdyResponse) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	return &frameConn{Conn: conn}, rw, nil
}

// spdyFrameHeader is the length of a SPDY/3.1 frame's header, data or
// control; its last 3 bytes are the length of what follows.
const spdyFrameHeader = 8

// frameConn holds what is written to it until a whole SPDY frame is there,
// then writes the frame in one syscall (writev: the data is not copied).
// The framer writes whole frames under its lock, so nothing is held past
// a frame's last write.
type frameConn struct {
	net.Conn
	mu sync.Mutex
	// pending is the current frame's bytes so far: its header and the
	// parts of a control frame's body written piecewise.
	pending []byte
	// remain is how much of the current frame's body is still to come,
	// once its header is complete.
	remain int
}

func (c *frameConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		if len(c.pending) < spdyFrameHeader {
			k := min(spdyFrameHeader-len(c.pending), len(p))
			c.pending, p = append(c.pending, p[:k]...), p[k:]
			if len(c.pending) < spdyFrameHeader {
				continue
			}
			c.remain = int(binary.BigEndian.Uint32(c.pending[4:spdyFrameHeader]) & 0xffffff)
			if c.remain == 0 {
				if err := c.flush(nil); err != nil {
					return 0, err
				}
			}
			continue
		}
		k := min(c.remain, len(p))
		if k < c.remain {
			c.pending, c.remain, p = append(c.pending, p[:k]...), c.remain-k, p[k:]
			continue
		}
		if err := c.flush(p[:k]); err != nil {
			return 0, err
		}
		p = p[k:]
	}
	return n, nil
}

// flush writes the pending bytes and then rest, the end of the frame.
func (c *frameConn) flush(rest []byte) error {
	bufs := net.Buffers{c.pending, rest}
	_, err := bufs.WriteTo(c.Conn)
	c.pending, c.remain = c.pending[:0], 0
	return err
}
