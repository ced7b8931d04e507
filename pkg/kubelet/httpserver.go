package kubelet

import (
	"context"
	"net"
	"net/http"
	"sync"
	"time"
)

// httpServer serves the kubelet API with upstream's timeouts
// (ListenAndServeKubeletServer) and can be stopped completely: besides what
// http.Server.Close ends, it closes the connections of exec, attach and
// port-forward sessions (hijacked, so unknown to net/http) and waits for
// every handler to return.
type httpServer struct {
	srv      *http.Server
	mu       sync.Mutex
	stopped  bool
	active   map[net.Conn]int // connections with a handler running
	handlers sync.WaitGroup
}

type connKey struct{}

func newHTTPServer(h http.Handler) *httpServer {
	s := &httpServer{active: map[net.Conn]int{}}
	s.srv = &http.Server{
		Handler:        s.track(h),
		IdleTimeout:    90 * time.Second,
		ReadTimeout:    4 * 60 * time.Minute,
		WriteTimeout:   4 * 60 * time.Minute,
		MaxHeaderBytes: 1 << 20,
		ConnContext: func(ctx context.Context, c net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, c)
		},
	}
	return s
}

// Serve serves on ln (which may be a TLS listener) until Stop.
func (s *httpServer) Serve(ln net.Listener) error {
	err := s.srv.Serve(ln)
	if err == http.ErrServerClosed {
		return nil
	}
	return err
}

func (s *httpServer) track(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _ := r.Context().Value(connKey{}).(net.Conn)
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			http.Error(w, "the kubelet is shutting down", http.StatusServiceUnavailable)
			return
		}
		s.handlers.Add(1)
		s.active[conn]++
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			if s.active[conn]--; s.active[conn] == 0 {
				delete(s.active, conn)
			}
			s.mu.Unlock()
			s.handlers.Done()
		}()
		h.ServeHTTP(w, r)
	})
}

// Stop closes the listener and every connection, then waits for the
// handlers: sessions in flight end.
func (s *httpServer) Stop() {
	s.mu.Lock()
	s.stopped = true
	conns := make([]net.Conn, 0, len(s.active))
	for c := range s.active {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	_ = s.srv.Close()
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
	s.handlers.Wait()
}
