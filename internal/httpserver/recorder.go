package httpserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// errClosing is what Hijack answers once the Conns it reports to is closing.
var errClosing = errors.New("the server is shutting down")

// Recorder is the response wrapper of every execlab server: it notes the
// status code for the request log, keeps the Flusher and Hijacker that
// watches and streams need, and, under Conns.Track, hands a hijacked
// connection to the Conns so that the server's stop closes it.
type Recorder struct {
	http.ResponseWriter
	status int
	conns  *Conns
	forget func()
	wrap   func(net.Conn) net.Conn
}

// Record returns w as a Recorder: w itself when it is one already, so that
// a request log and a Conns share one wrapper.
func Record(w http.ResponseWriter) *Recorder {
	if rec, ok := w.(*Recorder); ok {
		return rec
	}
	return &Recorder{ResponseWriter: w}
}

// Status is the code answered: the first one written, 101 once the
// connection is hijacked, and 200, as net/http answers, when nothing was.
func (r *Recorder) Status() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

func (r *Recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *Recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(p)
}

func (r *Recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack hands the connection over, tracked by the Conns if there is one.
func (r *Recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("response writer %T cannot hijack", r.ResponseWriter)
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	r.status = http.StatusSwitchingProtocols
	if r.wrap != nil {
		// Reads go on through rw's reader: it holds what the client sent
		// past the request head, and net/http cancels the request's context
		// when a read through it fails, which is how upstream's
		// StreamTranslatorHandler learns that its client has gone. The
		// reader and writer handed over go through the wrapper too
		// (x/net/websocket serves the session on them, not on conn).
		conn = r.wrap(&readerConn{Conn: conn, r: rw.Reader})
		rw = bufio.NewReadWriter(bufio.NewReader(conn), bufio.NewWriter(conn))
	}
	if r.conns != nil {
		forget, ok := r.conns.Add(conn)
		if !ok {
			conn.Close()
			return nil, nil, errClosing
		}
		r.forget = forget
	}
	return conn, rw, nil
}

// WrapHijacked has the connection, once hijacked, handed over wrapped by
// f: how a proxy hop watches the session that passes through it, and how
// pkg/faults acts on it. Wrappers compose in the order added: the first
// wraps the connection itself.
func (r *Recorder) WrapHijacked(f func(net.Conn) net.Conn) {
	if prev := r.wrap; prev != nil {
		r.wrap = func(c net.Conn) net.Conn { return f(prev(c)) }
		return
	}
	r.wrap = f
}

// Unwrap serves http.ResponseController.
func (r *Recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// release stops tracking the hijacked connection once its handler returned.
func (r *Recorder) release() {
	if r.forget != nil {
		r.forget()
		r.forget = nil
	}
}

// readerConn reads r, the connection's buffered reader.
type readerConn struct {
	net.Conn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// NetConn is the hijacked connection, as tls.Conn's NetConn: what a wrapper
// reaches through to set socket options (pkg/faults' reset).
func (c *readerConn) NetConn() net.Conn { return c.Conn }
