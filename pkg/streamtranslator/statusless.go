package streamtranslator

import (
	"net/http"
	"sync"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/httpstream"
	constants "k8s.io/apimachinery/pkg/util/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
)

// A streaming server that speaks v4 or v5 ends every session with a JSON
// status on the error stream, Success included (cri-streaming's
// remotecommand/httpstream.go, v4WriteStatusFunc). So an error stream that
// ends empty under those versions means the server never got to say how the
// command ended. Older versions say nothing on success, and cannot be told
// apart.

// statuslessUpgrader makes the SPDY connection and remembers the protocol
// the server chose and whether anything came on its error stream.
type statuslessUpgrader struct {
	clientspdy.Upgrader
	mu         sync.Mutex
	protocol   string
	errorBytes atomic.Int64
}

func (u *statuslessUpgrader) NewConnection(resp *http.Response) (httpstream.Connection, error) {
	conn, err := u.Upgrader.NewConnection(resp)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	u.protocol = resp.Header.Get(httpstream.HeaderProtocolVersion)
	u.mu.Unlock()
	return &watchedConn{Connection: conn, u: u}, nil
}

// statusless says whether the session's protocol always ends with a status
// and none came.
func (u *statuslessUpgrader) statusless() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch u.protocol {
	case constants.StreamProtocolV4Name, constants.StreamProtocolV5Name:
		return u.errorBytes.Load() == 0
	}
	return false
}

// watchedConn counts what is read from its error stream.
type watchedConn struct {
	httpstream.Connection
	u *statuslessUpgrader
}

func (c *watchedConn) CreateStream(headers http.Header) (httpstream.Stream, error) {
	s, err := c.Connection.CreateStream(headers)
	if err != nil || headers.Get(corev1.StreamType) != corev1.StreamTypeError {
		return s, err
	}
	return &errorStream{Stream: s, u: c.u}, nil
}

func (c *watchedConn) RemoveStreams(streams ...httpstream.Stream) {
	for i, s := range streams {
		if e, ok := s.(*errorStream); ok {
			streams[i] = e.Stream
		}
	}
	c.Connection.RemoveStreams(streams...)
}

type errorStream struct {
	httpstream.Stream
	u *statuslessUpgrader
}

func (s *errorStream) Read(p []byte) (int, error) {
	n, err := s.Stream.Read(p)
	s.u.errorBytes.Add(int64(n))
	return n, err
}
