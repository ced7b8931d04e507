package httpserver

import (
	"io"
	"net/http"
	"sync"
)

// Conns tracks a server's handlers in flight and the connections they took
// over (hijacked, or upgraded by a library that hijacked them), so that
// CloseAll can end every session and wait for it. The zero value is ready.
type Conns struct {
	mu      sync.Mutex
	closing bool
	// connsClosed refuses connections only (CloseConns).
	connsClosed bool
	conns       map[io.Closer]struct{}
	handlers    sync.WaitGroup
}

// Enter counts a handler in; it reports false once CloseAll has begun, and
// the handler must then refuse the request.
func (c *Conns) Enter() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return false
	}
	c.handlers.Add(1)
	return true
}

// Leave counts a handler out.
func (c *Conns) Leave() { c.handlers.Done() }

// Add tracks conn until forget is called. Once CloseAll or CloseConns has
// begun it tracks nothing and reports false: the caller closes conn.
func (c *Conns) Add(conn io.Closer) (forget func(), ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.connsClosed {
		return nil, false
	}
	if c.conns == nil {
		c.conns = make(map[io.Closer]struct{})
	}
	c.conns[conn] = struct{}{}
	return func() {
		c.mu.Lock()
		delete(c.conns, conn)
		c.mu.Unlock()
	}, true
}

// CloseAll refuses new handlers and connections, closes the tracked
// connections and waits for every handler to return.
func (c *Conns) CloseAll() {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	c.CloseConns()
	c.handlers.Wait()
}

// Track serves each request of h as a handler c counts, through a Recorder
// that gives c the connection h hijacks. Once CloseAll has begun, requests
// go to refuse instead (a 503 in the server's own error format).
func (c *Conns) Track(h, refuse http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !c.Enter() {
			refuse.ServeHTTP(w, r)
			return
		}
		defer c.Leave()
		rec := Record(w)
		rec.conns = c
		defer rec.release()
		h.ServeHTTP(rec, r)
	})
}

// CloseConns closes the tracked connections, and any hijacked from now on,
// without refusing handlers or waiting for them: for a server whose
// http.Server.Shutdown gives its other requests time to finish.
func (c *Conns) CloseConns() {
	c.mu.Lock()
	c.connsClosed = true
	conns := make([]io.Closer, 0, len(c.conns))
	for conn := range c.conns {
		conns = append(conns, conn)
	}
	c.mu.Unlock()

	for _, conn := range conns {
		_ = conn.Close()
	}
}
