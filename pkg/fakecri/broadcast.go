package fakecri

import (
	"bytes"
	"io"
	"sync"
)

// sinkQueue is how many writes an attached client may lag behind before it
// holds up the container's output.
const sinkQueue = 64

// broadcaster fans one output stream of a container's main process out to
// its log and to every attached client, as containerd's cioutil.WriterGroup
// does. Each client is fed by a goroutine of its own from a short queue: a
// client that lags further behind slows the container, as with containerd,
// but never past abort, which the container's end calls.
//
// Write is called by one goroutine only, the stream's pump.
type broadcaster struct {
	log       io.WriteCloser // nil when the container has no log path
	abortCh   chan struct{}
	abortOnce sync.Once

	mu     sync.Mutex
	sinks  map[*sink]struct{}
	closed bool
}

// sink is one attached client's writer.
type sink struct {
	w     io.WriteCloser
	queue chan []byte
	quit  chan struct{} // closed by stop
	once  sync.Once
	// done is closed once the client gets no more output and its writer is
	// closed: the stream ended, the client failed or was detached.
	done chan struct{}
}

func newSink(w io.WriteCloser) *sink {
	s := &sink{w: w, queue: make(chan []byte, sinkQueue), quit: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s
}

func (s *sink) run() {
	defer close(s.done)
	defer s.w.Close()
	for {
		select {
		case b := <-s.queue:
			if _, err := s.w.Write(b); err != nil {
				return
			}
		case <-s.quit:
			for { // what was queued before the end still goes out
				select {
				case b := <-s.queue:
					if _, err := s.w.Write(b); err != nil {
						return
					}
				default:
					return
				}
			}
		}
	}
}

// stop ends the client's stream once it has what is queued.
func (s *sink) stop() { s.once.Do(func() { close(s.quit) }) }

func newBroadcaster(log io.WriteCloser) *broadcaster {
	return &broadcaster{log: log, abortCh: make(chan struct{}), sinks: map[*sink]struct{}{}}
}

func (b *broadcaster) Write(p []byte) (int, error) {
	if b.log != nil {
		b.log.Write(p)
	}
	b.mu.Lock()
	sinks := make([]*sink, 0, len(b.sinks))
	for s := range b.sinks {
		sinks = append(sinks, s)
	}
	b.mu.Unlock()
	if len(sinks) == 0 {
		return len(p), nil
	}
	chunk := bytes.Clone(p) // the pump reuses p; clients read chunk later
	for _, s := range sinks {
		select {
		case s.queue <- chunk:
			continue
		default:
		}
		select {
		case s.queue <- chunk:
		case <-s.quit: // detached meanwhile
		case <-s.done: // the client failed
			b.remove(s)
		case <-b.abortCh: // the container has ended: drop what lags
		}
	}
	return len(p), nil
}

// add attaches w. On a stream that has already ended, w is closed at once.
func (b *broadcaster) add(w io.WriteCloser) *sink {
	s := newSink(w)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		s.stop()
	} else {
		b.sinks[s] = struct{}{}
	}
	return s
}

// remove detaches s; its writer is closed once it has what was queued.
func (b *broadcaster) remove(s *sink) {
	b.mu.Lock()
	delete(b.sinks, s)
	b.mu.Unlock()
	s.stop()
}

// abort makes a Write blocked on a lagging client return.
func (b *broadcaster) abort() { b.abortOnce.Do(func() { close(b.abortCh) }) }

// close ends the stream once its pump is done: it writes the log's last
// partial line and ends every client's stream.
func (b *broadcaster) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	if b.log != nil {
		b.log.Close()
	}
	for s := range b.sinks {
		delete(b.sinks, s)
		s.stop()
	}
}
