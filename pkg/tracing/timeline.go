package tracing

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// Step is one line of a session's sequence diagram: a message from one hop
// to another, or, with no To, a note at one hop.
type Step struct {
	At    time.Duration `json:"at"` // since the trace's first span started
	From  string        `json:"from"`
	To    string        `json:"to,omitempty"`
	Label string        `json:"label"`
}

// Timeline orders a trace's spans as steps between hops: a server span's
// start is the request that reached it, an event is the phase it names (a
// message when it says where from or to), and a session span's end is its
// close. A client span (the kubelet's CRI call) draws the request, so the
// server span it led to does not draw it again.
func Timeline(spans []Span) []Step {
	if len(spans) == 0 {
		return nil
	}
	t0 := spans[0].Start
	byID := map[string]*Span{}
	for i := range spans {
		byID[spans[i].SpanID] = &spans[i]
		if spans[i].Start.Before(t0) {
			t0 = spans[i].Start
		}
	}
	type timed struct {
		at   time.Time
		rank int
		step Step
	}
	var steps []timed
	add := func(at time.Time, from, to, label string) {
		steps = append(steps, timed{at, slices.Index(Hops, from), Step{At: at.Sub(t0), From: from, To: to, Label: label}})
	}
	for i := range spans {
		sp := &spans[i]
		hop := sp.Hop()
		if hop == "" {
			continue
		}
		parent := byID[sp.ParentID]
		switch {
		case sp.Kind == "client" && hop != HopClient:
			add(sp.Start, hop, callee(hop), sp.Name)
		case sp.Kind == "server" && (parent == nil || parent.Kind != "client"):
			from := caller(hop)
			if parent != nil && parent.Hop() != "" {
				from = parent.Hop()
			}
			add(sp.Start, from, hop, sp.Name)
		case sp.Kind != "client" && sp.Attr(AttrSession) != "":
			add(sp.Start, hop, "", sp.Name)
		}
		closed := false
		for _, e := range sp.Events {
			closed = closed || e.Name == PhaseClosed || e.Name == PhaseExited
			// A message is from AttrFrom (else this hop) to AttrTo (else,
			// when it is from elsewhere, this hop); neither: a note.
			from, to := hop, e.Attr(AttrTo)
			if f := e.Attr(AttrFrom); f != "" {
				from = f
				if to == "" {
					to = hop
				}
			}
			add(e.Time, from, to, describe(e.Name, e.Attrs))
		}
		if !closed && sp.Attr(AttrSession) != "" && sp.Kind != "client" {
			add(sp.End, hop, "", describe(PhaseClosed, sp.Attrs))
		}
	}
	sort.SliceStable(steps, func(i, j int) bool {
		if !steps[i].at.Equal(steps[j].at) {
			return steps[i].at.Before(steps[j].at)
		}
		return steps[i].rank < steps[j].rank
	})
	out := make([]Step, len(steps))
	for i, s := range steps {
		out[i] = s.step
	}
	return out
}

// caller is the hop before hop in the chain; callee the one after.
func caller(hop string) string {
	if i := slices.Index(Hops, hop); i > 0 {
		return Hops[i-1]
	}
	return hop
}

func callee(hop string) string {
	if i := slices.Index(Hops, hop); i >= 0 && i < len(Hops)-1 {
		return Hops[i+1]
	}
	return hop
}

// labelAttrs are the attributes a step's label shows, in this order.
var labelAttrs = []attribute.Key{
	AttrProtocol, AttrTransport, AttrUser, AttrDecision, AttrVerb, AttrResource, AttrNode, AttrURL, AttrContainerID,
	AttrStream, AttrSize, AttrExitCode,
}

// byteAttrs are shown as "name N B".
var byteAttrs = []struct {
	key  attribute.Key
	name string
}{
	{AttrBytesIn, "in"}, {AttrBytesOut, "out"},
	{AttrBytesStdin, "stdin"}, {AttrBytesStdout, "stdout"}, {AttrBytesStderr, "stderr"},
}

// describe is a phase and what its attributes say, in a fixed order.
func describe(name string, attrs map[string]string) string {
	parts := []string{name}
	for _, k := range labelAttrs {
		if v := attrs[string(k)]; v != "" {
			if k == AttrExitCode {
				v = "code " + v
			}
			parts = append(parts, v)
		}
	}
	var bytes []string
	for _, b := range byteAttrs {
		if v := attrs[string(b.key)]; v != "" {
			bytes = append(bytes, fmt.Sprintf("%s %s B", b.name, v))
		}
	}
	if len(bytes) > 0 {
		parts = append(parts, strings.Join(bytes, ", "))
	}
	if v := attrs[string(AttrReason)]; v != "" {
		parts = append(parts, "("+v+")")
	}
	return strings.Join(parts, " ")
}
