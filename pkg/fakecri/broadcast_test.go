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

// failingWriter fails every write, as a stream whose client has gone.
type failingWriter struct{ closed chan struct{} }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("gone") }

func (w failingWriter) Close() error {
	close(w.closed)
	return nil
}

// TestBroadcaster checks the fan-out: every client and the log get all the
// output; a client that fails is dropped without holding anything up.
func TestBroadcaster(t *testing.T) {
	log := &nopCloser{}
	b := newBroadcaster(log)
	failing := failingWriter{closed: make(chan struct{})}
	b.add(failing)
	clients := []*pipeStream{newPipeStream(), newPipeStream()}
	var sinks []*sink
	for _, c := range clients {
		sinks = append(sinks, b.add(c))
	}
	var want strings.Builder
	for i := range 3 * sinkQueue {
		line := strconv.Itoa(i) + "\n"
		want.WriteString(line)
		b.Write([]byte(line))
	}
	<-failing.closed
	b.close()
	for i, c := range clients {
		<-sinks[i].done
		if c.String() != want.String() || !c.isClosed() {
			t.Errorf("client %d got %q, closed %v", i, c.String(), c.isClosed())
		}
	}
	if log.String() != want.String() {
		t.Errorf("the log has %q", log.String())
	}
	late := newPipeStream()
	if s := b.add(late); func() bool { <-s.done; return !late.isClosed() }() {
		t.Error("a client attached after the end is not closed")
	}
}

// TestBroadcasterStuckClient checks that a client that stops reading holds
// the output up once its queue is full, as with containerd, until the
// container's end aborts; the log still gets everything.
func TestBroadcasterStuckClient(t *testing.T) {
	log := &nopCloser{}
	b := newBroadcaster(log)
	stuck := &stuckWriter{release: make(chan struct{}), closed: make(chan struct{})}
	b.add(stuck)
	var want strings.Builder
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for i := range sinkQueue + 2 { // one taken, a queue full, one held up
			line := strconv.Itoa(i) + "\n"
			want.WriteString(line)
			b.Write([]byte(line))
		}
	}()
	b.abort()
	<-wrote
	b.close()
	if log.String() != want.String() {
		t.Errorf("the log has %q", log.String())
	}
	close(stuck.release)
	<-stuck.closed
}
