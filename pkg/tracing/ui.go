package tracing

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// UIPath is where the apiserver serves the live view.
const UIPath = "/ui/"

//go:embed ui/index.html
var uiFiles embed.FS

// liveRefresh is how often the event stream repeats the session list while
// a session runs, so that its byte counts move in the page.
const liveRefresh = 500 * time.Millisecond

// SessionDetail is one session with its diagram and spans, as the view and
// `mini-kubectl exec --trace` fetch it.
type SessionDetail struct {
	Session Session      `json:"session"`
	Hops    []HopSummary `json:"hops"`
	Steps   []Step       `json:"steps"`
	Spans   []Span       `json:"spans"`
}

// HopSummary is what one hop saw of a session: the protocol it spoke
// towards its client and the bytes that crossed it.
type HopSummary struct {
	Hop       string      `json:"hop"`
	Protocol  string      `json:"protocol,omitempty"`
	Transport string      `json:"transport,omitempty"`
	Bytes     []ByteCount `json:"bytes,omitempty"`
	ExitCode  string      `json:"exitCode,omitempty"`
}

// ByteCount is the bytes of one direction or stream at a hop.
type ByteCount struct {
	Name  string `json:"name"` // in, out, stdin, stdout, stderr
	Bytes int64  `json:"bytes"`
}

// hopSummaries reads each hop's session span: the protocol and transport
// it recorded (at the streaming server, when its streams were ready) and
// its byte counts.
func hopSummaries(spans []Span) []HopSummary {
	var out []HopSummary
	for _, hop := range Hops {
		for _, sp := range spans {
			if sp.Hop() != hop || sp.Attr(AttrSession) == "" {
				continue
			}
			h := HopSummary{Hop: hop, Protocol: sp.Attr(AttrProtocol), Transport: sp.Attr(AttrTransport), ExitCode: sp.Attr(AttrExitCode)}
			for _, e := range sp.Events {
				if e.Name == PhaseStreamsReady {
					h.Protocol, h.Transport = e.Attr(AttrProtocol), e.Attr(AttrTransport)
				}
			}
			for _, b := range byteAttrs {
				if v, err := strconv.ParseInt(sp.Attr(b.key), 10, 64); err == nil {
					h.Bytes = append(h.Bytes, ByteCount{b.name, v})
				}
			}
			out = append(out, h)
		}
	}
	return out
}

// Detail returns the session of a trace, or of the trace that links to it
// (a client's trace the apiserver did not continue), or false if the store
// has neither.
func (s *Store) Detail(id string) (SessionDetail, bool) {
	id = s.resolve(id)
	spans, running := s.Trace(id)
	if len(spans) == 0 && !running {
		return SessionDetail{}, false
	}
	sess := summarize(id, spans)
	for _, l := range s.Sessions() {
		if l.TraceID == id {
			sess = l
			break
		}
	}
	hops := hopSummaries(spans)
	if running && (len(hops) == 0 || hops[0].Hop != HopAPIServer) {
		// The apiserver's span ends with the session; until then its
		// counters say what crossed it.
		live := HopSummary{Hop: HopAPIServer, Bytes: []ByteCount{{"in", sess.BytesIn}, {"out", sess.BytesOut}}}
		hops = append([]HopSummary{live}, hops...)
	}
	return SessionDetail{Session: sess, Hops: hops, Steps: Timeline(spans), Spans: spans}, true
}

// resolve is id, or the session trace with a span linking to id.
func (s *Store) resolve(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.traces[id]; ok {
		return id
	}
	if _, ok := s.live[id]; ok {
		return id
	}
	for tid, t := range s.traces {
		for _, sp := range t.spans {
			if slices.Contains(sp.Links, id) {
				return tid
			}
		}
	}
	return id
}

// UI serves the live view under UIPath: the page, its JSON API
// (api/sessions, api/sessions/{traceID}) and a stream of server-sent
// events (api/events) that says when to fetch again. It is mounted behind
// the apiserver's authentication and authorization, like any other path.
func (s *Store) UI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+UIPath+"{$}", func(w http.ResponseWriter, r *http.Request) {
		page, _ := uiFiles.ReadFile("ui/index.html")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'")
		w.Write(page)
	})
	mux.HandleFunc("GET "+UIPath+"api/sessions", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, s.Sessions())
	})
	mux.HandleFunc("GET "+UIPath+"api/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		d, ok := s.Detail(strings.ToLower(r.PathValue("id")))
		if !ok {
			http.Error(w, fmt.Sprintf("no session with trace ID %q", r.PathValue("id")), http.StatusNotFound)
			return
		}
		writeJSON(w, d)
	})
	mux.HandleFunc("GET "+UIPath+"api/events", s.serveEvents)
	return mux
}

// serveEvents sends "changed" whenever the store changes (at most every
// ExportInterval) and, while a session runs, every liveRefresh, until the
// client goes.
func (s *Store) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	changed, cancel := s.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	tick := time.NewTicker(liveRefresh)
	defer tick.Stop()
	send := func() bool {
		_, err := fmt.Fprint(w, "event: changed\ndata: {}\n\n")
		flusher.Flush()
		return err == nil
	}
	if !send() {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-tick.C:
			if !s.anyRunning() {
				continue
			}
		}
		if !send() {
			return
		}
		// Coalesce bursts: a session's spans arrive from several hops.
		select {
		case <-r.Context().Done():
			return
		case <-time.After(ExportInterval):
		}
	}
}

func (s *Store) anyRunning() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.live) > 0
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
