package streaming

import (
	"bytes"
	"net"
	"testing"

	"github.com/moby/spdystream/spdy"
)

// recordingConn records what reaches the connection.
type recordingConn struct {
	net.Conn
	got bytes.Buffer
}

func (c *recordingConn) Write(p []byte) (int, error) { return c.got.Write(p) }

// spdystream's framer writes frames in pieces; frameConn passes each frame
// on only once it is whole, and the bytes are the framer's, in order.
func TestFrameConn(t *testing.T) {
	var want bytes.Buffer
	direct, err := spdy.NewFramer(&want, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordingConn{}
	c := &frameConn{Conn: rec}
	framer, err := spdy.NewFramer(c, nil)
	if err != nil {
		t.Fatal(err)
	}
	frames := []spdy.Frame{
		&spdy.SynReplyFrame{StreamId: 1, Headers: map[string][]string{"streamtype": {"stdout"}}},
		&spdy.DataFrame{StreamId: 1, Data: bytes.Repeat([]byte("x"), 100000)},
		&spdy.DataFrame{StreamId: 3, Flags: spdy.DataFlagFin}, // empty
		&spdy.PingFrame{Id: 7},
		&spdy.DataFrame{StreamId: 1, Data: []byte("end")},
	}
	for _, f := range frames {
		before := want.Len()
		if err := direct.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		if err := framer.WriteFrame(f); err != nil {
			t.Fatal(err)
		}
		if len(c.pending) != 0 || c.remain != 0 {
			t.Errorf("%T: %d bytes held after the frame", f, len(c.pending))
		}
		if !bytes.Equal(rec.got.Bytes(), want.Bytes()) {
			t.Fatalf("%T: the connection got %d bytes, the framer wrote %d (%d before it)", f, rec.got.Len(), want.Len(), before)
		}
	}
	// Half a header is held, not written.
	if _, err := c.Write([]byte{0, 0, 0, 1}); err != nil || rec.got.Len() != want.Len() {
		t.Errorf("half a header: %d bytes written, error %v", rec.got.Len()-want.Len(), err)
	}
}
