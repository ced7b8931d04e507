package fakecri

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
)

// nopCloser is a log that records what it is given.
type nopCloser struct{ bytes.Buffer }

func (nopCloser) Close() error { return nil }

// stuckWriter blocks every write until release is closed.
type stuckWriter struct {
	release chan struct{}
	closed  chan struct{}
}

func (w *stuckWriter) Write(p []byte) (int, error) {
	<-w.release
	return 0, errors.New("gone")
}

func (w *stuckWriter) Close() error {
	close(w.closed)
	return nil
}

// TestBroadcasterSlowClient checks that a client that stops reading is
// disconnected without holding up the log or the other clients.
func TestBroadcasterSlowClient(t *testing.T) {
	log := &nopCloser{}
	b := newBroadcaster(log)
	stuck := &stuckWriter{release: make(chan struct{}), closed: make(chan struct{})}
	slow := b.add(stuck)
	fast := newPipeStream()
	fastSink := b.add(fast)
	var want strings.Builder
	for i := range sinkQueue + 2 {
		line := strconv.Itoa(i) + "\n"
		want.WriteString(line)
		b.Write([]byte(line))
	}
	b.mu.Lock()
	_, kept := b.sinks[slow]
	b.mu.Unlock()
	if kept {
		t.Error("a client more than a queue behind is still attached")
	}
	close(stuck.release)
	<-slow.done
	<-stuck.closed
	b.close()
	<-fastSink.done // the end reaches the client after all the output
	if fast.String() != want.String() || !fast.isClosed() {
		t.Errorf("the other client got %q, closed %v", fast.String(), fast.isClosed())
	}
	if log.String() != want.String() {
		t.Errorf("the log has %q", log.String())
	}
	late := newPipeStream()
	if s := b.add(late); func() bool { <-s.done; return !late.isClosed() }() {
		t.Error("a client attached after the end is not closed")
	}
}
