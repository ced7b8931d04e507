package streaming

import (
	"context"
	"errors"
	"io"
	"sync"
)

var errServerClosed = errors.New("streaming server closed")

// openConns tracks a Server's upgraded connections and the handlers serving
// requests. net/http forgets a connection once it is hijacked, so this is
// what lets Server.Close end every session and wait for it.
type openConns struct {
	mu       sync.Mutex
	closing  bool
	conns    map[io.Closer]struct{}
	handlers sync.WaitGroup
}

// enter counts a handler in; it reports false once the server is closing.
func (o *openConns) enter() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return false
	}
	o.handlers.Add(1)
	return true
}

// leave counts a handler out.
func (o *openConns) leave() { o.handlers.Done() }

// add tracks conn until forget is called. Once the server is closing it
// tracks nothing and reports false: the caller closes conn.
func (o *openConns) add(conn io.Closer) (forget func(), ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return nil, false
	}
	if o.conns == nil {
		o.conns = make(map[io.Closer]struct{})
	}
	o.conns[conn] = struct{}{}
	return func() {
		o.mu.Lock()
		delete(o.conns, conn)
		o.mu.Unlock()
	}, true
}

// closeAll refuses new handlers and connections, closes the tracked ones
// and waits for every handler to return.
func (o *openConns) closeAll() {
	o.mu.Lock()
	o.closing = true
	conns := make([]io.Closer, 0, len(o.conns))
	for c := range o.conns {
		conns = append(conns, c)
	}
	o.mu.Unlock()

	for _, c := range conns {
		_ = c.Close()
	}
	o.handlers.Wait()
}

// untilClosed returns a context that ends when closed is closed or cancel
// is called: a session's context, ending with its connection.
func untilClosed[T any](parent context.Context, closed <-chan T) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	go func() {
		select {
		case <-closed:
		case <-ctx.Done():
		}
		cancel()
	}()
	return ctx, cancel
}
