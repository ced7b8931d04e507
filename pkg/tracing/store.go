package tracing

import (
	"context"
	"io"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// DefaultMaxTraces is how many session traces a Store keeps by default;
// the oldest go first. Of other traces (discovery, watches, status
// updates: every request is traced) it keeps a fifth as many, apart, so
// that they never push sessions out.
const DefaultMaxTraces = 500

// Store keeps the recent traces, whichever component their spans come
// from, and the sessions running through the apiserver now. It is the
// apiserver's in-process exporter and what its OTLP receiver fills.
type Store struct {
	max int

	mu     sync.Mutex
	traces map[string]*stored
	// sessions and others are trace IDs, oldest first; a trace that turned
	// out to be a session is left in others, and skipped there.
	sessions, others []string
	live             map[string]*Live
	subs             map[chan struct{}]struct{}
}

type stored struct {
	spans   []Span
	session bool
}

// NewStore keeps up to max traces (DefaultMaxTraces when 0).
func NewStore(max int) *Store {
	if max <= 0 {
		max = DefaultMaxTraces
	}
	return &Store{max: max, traces: map[string]*stored{}, live: map[string]*Live{}, subs: map[chan struct{}]struct{}{}}
}

// Live is a session running through the apiserver. Its byte counters
// move with the bytes (the proxy adds to them), so the view can show a
// session as it goes; the spans of every hop arrive as each phase ends.
type Live struct {
	TraceID   string
	Kind      string // exec, attach, portforward, log
	Namespace string
	Pod       string
	Container string
	Command   string
	User      string
	Start     time.Time
	// In and Out count the bytes from and to the client at the apiserver.
	In, Out atomic.Int64

	store *Store
	once  sync.Once
}

// Begin shows l as running until l.End.
func (s *Store) Begin(l *Live) {
	if s == nil {
		return
	}
	l.store = s
	s.mu.Lock()
	s.live[l.TraceID] = l
	if t := s.traces[l.TraceID]; t != nil && !t.session {
		t.session = true
		s.sessions = append(s.sessions, l.TraceID)
	}
	s.mu.Unlock()
	s.notify()
}

// CountOut counts what is read from r as bytes to the client: a session
// the hop serves itself rather than hands over (pods/log).
func (l *Live) CountOut(r io.Reader) io.Reader { return &countingReader{r, &l.Out} }

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// End shows the session as ended; its spans tell the rest.
func (l *Live) End() {
	if l == nil || l.store == nil {
		return
	}
	l.once.Do(func() {
		s := l.store
		s.mu.Lock()
		delete(s.live, l.TraceID)
		s.mu.Unlock()
		s.notify()
	})
}

// ExportSpans takes this process's spans: Store is a SpanExporter.
func (s *Store) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	out := make([]Span, 0, len(spans))
	for _, sp := range spans {
		out = append(out, fromSDK(sp))
	}
	s.Add(out)
	return nil
}

// Shutdown is part of SpanExporter; the Store stays readable.
func (s *Store) Shutdown(context.Context) error { return nil }

// Add keeps spans, evicting the oldest traces past the bounds.
func (s *Store) Add(spans []Span) {
	if len(spans) == 0 {
		return
	}
	s.mu.Lock()
	for _, sp := range spans {
		t := s.traces[sp.TraceID]
		if t == nil {
			t = &stored{}
			s.traces[sp.TraceID] = t
			s.others = append(s.others, sp.TraceID)
		}
		t.spans = append(t.spans, sp)
		if !t.session && (sp.Attr(AttrSession) != "" || s.live[sp.TraceID] != nil) {
			t.session = true
			s.sessions = append(s.sessions, sp.TraceID)
		}
	}
	s.sessions = s.evict(s.sessions, s.max, true)
	s.others = s.evict(s.others, max(s.max/5, 1), false)
	s.mu.Unlock()
	s.notify()
}

// evict drops the oldest traces of one kind from order until at most max
// are left, and returns what is left of order.
func (s *Store) evict(order []string, max int, sessions bool) []string {
	kept := order[:0]
	n := 0
	for i := len(order) - 1; i >= 0; i-- {
		if t := s.traces[order[i]]; t != nil && t.session == sessions {
			n++
		}
	}
	for _, id := range order {
		t := s.traces[id]
		if t == nil || t.session != sessions {
			continue
		}
		if n > max && s.live[id] == nil {
			delete(s.traces, id)
			n--
			continue
		}
		kept = append(kept, id)
	}
	return kept
}

// Trace returns the spans of a trace, by start time, and whether its
// session still runs at the apiserver.
func (s *Store) Trace(id string) (spans []Span, running bool) {
	s.mu.Lock()
	if t := s.traces[id]; t != nil {
		spans = slices.Clone(t.spans)
	}
	_, running = s.live[id]
	s.mu.Unlock()
	sort.SliceStable(spans, func(i, j int) bool { return spans[i].Start.Before(spans[j].Start) })
	return spans, running
}

// Session is one session as the view lists it.
type Session struct {
	TraceID   string    `json:"traceId"`
	Kind      string    `json:"kind"`
	Namespace string    `json:"namespace,omitempty"`
	Pod       string    `json:"pod,omitempty"`
	Container string    `json:"container,omitempty"`
	Command   string    `json:"command,omitempty"`
	User      string    `json:"user,omitempty"`
	Protocol  string    `json:"protocol,omitempty"`
	Transport string    `json:"transport,omitempty"`
	Start     time.Time `json:"start"`
	Running   bool      `json:"running"`
	// Duration is until now for a running session.
	Duration time.Duration `json:"duration"`
	ExitCode string        `json:"exitCode,omitempty"`
	BytesIn  int64         `json:"bytesIn"`
	BytesOut int64         `json:"bytesOut"`
	Hops     []string      `json:"hops"`
	Error    string        `json:"error,omitempty"`
}

// Sessions lists the sessions running and recent, newest first: the traces
// with a span that names a session (execlab.session).
func (s *Store) Sessions() []Session {
	now := time.Now()
	s.mu.Lock()
	var out []Session
	seen := map[string]bool{}
	for id, l := range s.live {
		var spans []Span
		if t := s.traces[id]; t != nil {
			spans = t.spans
		}
		sess := summarize(id, spans)
		sess.Running = true
		sess.Kind, sess.Namespace, sess.Pod, sess.Container, sess.Command, sess.User = l.Kind, l.Namespace, l.Pod, l.Container, l.Command, l.User
		sess.Start, sess.Duration = l.Start, now.Sub(l.Start)
		sess.BytesIn, sess.BytesOut = l.In.Load(), l.Out.Load()
		// It runs through the apiserver, whose span ends with it.
		if !slices.Contains(sess.Hops, HopAPIServer) {
			sess.Hops = append([]string{HopAPIServer}, sess.Hops...)
		}
		out = append(out, sess)
		seen[id] = true
	}
	for id, t := range s.traces {
		if seen[id] || !t.session {
			continue
		}
		if sess := summarize(id, t.spans); sess.Kind != "" {
			out = append(out, sess)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out
}

// summarize reads a session from its spans: what the outermost session
// span says (the apiserver's, else the client's), the exit code from the
// hop that saw it, and which hops took part.
func summarize(id string, spans []Span) Session {
	sess := Session{TraceID: id}
	hops := map[string]bool{}
	// The apiserver's session span says the most (the bytes that crossed
	// the first proxy, the protocol the client got), then the client's,
	// then the kubelet's (an exec straight at the kubelet API).
	rank := func(hop string) int { return slices.Index([]string{HopKubelet, HopClient, HopAPIServer}, hop) }
	best := -1
	for i := range spans {
		sp := &spans[i]
		hop := sp.Hop()
		if hop != "" {
			hops[hop] = true
		}
		if kind := sp.Attr(AttrSession); kind != "" && rank(hop) >= 0 && (best < 0 || rank(hop) > rank(spans[best].Hop())) {
			best = i
		}
		if code := sp.Attr(AttrExitCode); code != "" && (sess.ExitCode == "" || hop == HopStreaming) {
			sess.ExitCode = code
		}
		if sp.Error != "" && sess.Error == "" {
			sess.Error = sp.Error
		}
	}
	if best >= 0 {
		sp := &spans[best]
		sess.Kind = sp.Attr(AttrSession)
		sess.Namespace, sess.Pod, sess.Container = sp.Attr(AttrNamespace), sp.Attr(AttrPod), sp.Attr(AttrContainer)
		sess.Command, sess.User = sp.Attr(AttrCommand), sp.Attr(AttrUser)
		sess.Protocol, sess.Transport = sp.Attr(AttrProtocol), sp.Attr(AttrTransport)
		sess.Start, sess.Duration = sp.Start, sp.End.Sub(sp.Start)
		sess.BytesIn, _ = strconv.ParseInt(sp.Attr(AttrBytesIn), 10, 64)
		sess.BytesOut, _ = strconv.ParseInt(sp.Attr(AttrBytesOut), 10, 64)
	}
	for _, h := range Hops {
		if hops[h] {
			sess.Hops = append(sess.Hops, h)
		}
	}
	return sess
}

// Subscribe returns a channel that receives a value after any change
// (coalesced), until cancel.
func (s *Store) Subscribe() (changed <-chan struct{}, cancel func()) {
	ch := make(chan struct{}, 1)
	s.mu.Lock()
	s.subs[ch] = struct{}{}
	s.mu.Unlock()
	return ch, func() {
		s.mu.Lock()
		delete(s.subs, ch)
		s.mu.Unlock()
	}
}

func (s *Store) notify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}
