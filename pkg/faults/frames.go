package faults

import (
	"bytes"
	"encoding/binary"
	"io"
	"sync"

	"github.com/moby/spdystream/spdy"
	v1 "k8s.io/api/core/v1"
)

// frames follows the frames of one direction of an upgraded connection,
// SPDY/3.1 or WebSocket (RFC 6455), as they pass, to say where each begins
// and ends and whose payload its bytes are. It copies nothing but SPDY
// control frames, whose compressed headers name the streams (the
// streamType header of SYN_STREAM): upstream's framer reads those
// (moby/spdystream's spdy.Framer, one per direction, which keeps the
// header decompressor's state from frame to frame). Framing itself is
// never written here; only its headers are read.
type frames struct {
	websocket bool
	// names holds the SPDY stream names both directions share; decode
	// says this direction's SYN_STREAMs (the client's) fill it in, until a
	// frame fails to decode.
	names  *streamNames
	decode bool
	// portForward names WebSocket channels as port-forward's (data and
	// error per port); otherwise as remotecommand's.
	portForward bool

	// head collects a frame header: 8 bytes for SPDY; for WebSocket 2,
	// then as many as its length and mask take.
	head     [14]byte
	have     int
	need     int
	inFrame  bool
	left     int64  // payload bytes left in the frame
	stream   string // the frame's stream, once known
	control  bool   // SPDY control frame: collected for the framer
	collect  []byte
	channel  bool   // WebSocket: the next payload byte names the channel
	mask     byte   // WebSocket: the first byte of the masking key
	message  string // WebSocket: the channel of the message continued
	framer   *spdy.Framer
	frameSrc frameSource
}

// piece is a run of bytes of one frame, as next reads it.
type piece struct {
	n int
	// stream is whose the frame is ("" for control frames and until the
	// stream is known); payload says the bytes are the stream's data.
	stream  string
	payload bool
	// start: the frame begins here; named: its stream became known with
	// this piece; end: the frame ends with it.
	start, named, end bool
}

// streamNames maps SPDY stream IDs to their streamType.
type streamNames struct {
	mu sync.Mutex
	m  map[uint32]string
}

func (s *streamNames) get(id uint32) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[id]
}

func (s *streamNames) set(id uint32, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[uint32]string{}
	}
	s.m[id] = name
}

// frameSource hands the framer one collected control frame at a time.
type frameSource struct{ r bytes.Reader }

func (f *frameSource) Read(p []byte) (int, error) { return f.r.Read(p) }

// WebSocket channels of remotecommand (k8s.io/apimachinery/pkg/util/remotecommand)
// and the v5 CLOSE signal.
var remoteCommandChannels = map[byte]string{
	0: v1.StreamTypeStdin, 1: v1.StreamTypeStdout, 2: v1.StreamTypeStderr,
	3: v1.StreamTypeError, 4: v1.StreamTypeResize, 255: "close",
}

// next reads the next piece of p, which must not be empty.
func (f *frames) next(p []byte) piece {
	if !f.inFrame {
		return f.header(p)
	}
	if f.channel {
		f.channel = false
		f.left--
		f.stream = f.channelName(p[0] ^ f.mask)
		f.message = f.stream
		return piece{n: 1, stream: f.stream, named: true, end: f.left == 0 && f.endFrame()}
	}
	n := int64(len(p))
	if n > f.left {
		n = f.left
	}
	f.left -= n
	pc := piece{n: int(n), stream: f.stream, payload: !f.control && f.stream != ""}
	if f.control && f.decode {
		f.collect = append(f.collect, p[:n]...)
	}
	if f.left == 0 {
		pc.end = f.endFrame()
	}
	return pc
}

// header collects a frame header; once whole, the frame's payload follows.
func (f *frames) header(p []byte) piece {
	pc := piece{start: f.have == 0}
	if f.need == 0 {
		f.need = 8
		if f.websocket {
			f.need = 2
		}
	}
	for pc.n < len(p) && f.have < f.need {
		f.head[f.have] = p[pc.n]
		f.have++
		pc.n++
		if f.websocket && f.have == 2 {
			f.need += wsExtraHeader(f.head[1])
		}
	}
	if f.have < f.need {
		return pc
	}
	if f.websocket {
		f.beginWebSocket()
	} else {
		f.beginSPDY()
	}
	pc.stream, pc.named = f.stream, f.stream != "" && !f.channel
	if f.left == 0 {
		pc.end = f.endFrame()
	}
	return pc
}

// wsExtraHeader is how many header bytes follow the first two: the
// extended length and the masking key.
func wsExtraHeader(b1 byte) int {
	n := 0
	switch b1 & 0x7f {
	case 126:
		n = 2
	case 127:
		n = 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

func (f *frames) beginWebSocket() {
	h := f.head[:f.have]
	opcode := h[0] & 0x0f
	length, i := int64(h[1]&0x7f), 2
	switch length {
	case 126:
		length, i = int64(binary.BigEndian.Uint16(h[2:4])), 4
	case 127:
		length, i = int64(binary.BigEndian.Uint64(h[2:10])), 10
	}
	f.mask = 0
	if h[1]&0x80 != 0 {
		f.mask = h[i]
	}
	f.inFrame, f.left, f.control = true, length, false
	switch opcode {
	case 0: // continuation: the message's channel
		f.stream = f.message
	case 1, 2: // a new message: its first byte names the channel
		f.stream, f.channel = "", length > 0
	default: // close, ping, pong
		f.stream = ""
	}
}

func (f *frames) beginSPDY() {
	h := f.head[:8]
	word := binary.BigEndian.Uint32(h[0:4])
	length := int64(binary.BigEndian.Uint32(h[4:8]) & 0xffffff)
	f.inFrame, f.left, f.channel = true, length, false
	if word&0x80000000 != 0 {
		f.stream, f.control = "", true
		f.collect = append(f.collect[:0], h...)
		return
	}
	f.stream, f.control = f.names.get(word&0x7fffffff), false
}

// endFrame ends the frame: a SPDY control frame goes to the framer, which
// names the stream a SYN_STREAM opens. It returns true.
func (f *frames) endFrame() bool {
	if f.control && f.decode {
		f.decodeControl()
	}
	f.inFrame, f.have, f.need, f.control = false, 0, 0, false
	return true
}

func (f *frames) decodeControl() {
	if f.framer == nil {
		var err error
		if f.framer, err = spdy.NewFramer(io.Discard, &f.frameSrc); err != nil {
			f.decode = false
			return
		}
	}
	f.frameSrc.r.Reset(f.collect)
	frame, err := f.framer.ReadFrame()
	if err != nil {
		// The decompressor's state is lost: name no more streams.
		f.decode = false
		return
	}
	if syn, ok := frame.(*spdy.SynStreamFrame); ok {
		f.names.set(uint32(syn.StreamId), syn.Headers.Get(v1.StreamType))
	}
}

// channelName names a WebSocket channel. A base64 protocol writes the
// channel as an ASCII digit, which no binary channel in use collides with.
func (f *frames) channelName(b byte) string {
	if b >= '0' && b <= '9' {
		b -= '0'
	}
	if f.portForward {
		if b%2 == 0 {
			return "data"
		}
		return "error"
	}
	return remoteCommandChannels[b]
}
