package tracing

import (
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Span is one finished span as the view keeps it, whether it came from
// this process's SDK or over OTLP from another component. Attribute values
// are kept as text: the view only shows them.
type Span struct {
	TraceID  string            `json:"traceId"`
	SpanID   string            `json:"spanId"`
	ParentID string            `json:"parentId,omitempty"`
	Service  string            `json:"service"`
	Name     string            `json:"name"`
	Kind     string            `json:"kind"`
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Attrs    map[string]string `json:"attrs,omitempty"`
	Events   []Event           `json:"events,omitempty"`
	// Error is the status description of a span that failed.
	Error string `json:"error,omitempty"`
	// Links are the trace IDs of the spans this one links to: the
	// client's, when the apiserver started a trace of its own for a caller
	// it does not trust with its trace context (kube-apiserver continues
	// only system:masters' traces).
	Links []string `json:"links,omitempty"`
}

// Event is a span event: a phase of the session at that hop.
type Event struct {
	Time  time.Time         `json:"time"`
	Name  string            `json:"name"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

// Attr returns the span attribute k, or "".
func (s *Span) Attr(k attribute.Key) string { return s.Attrs[string(k)] }

// Hop is the lane the span belongs to: its execlab.hop attribute, or for
// the spans of instrumentation libraries (otelgrpc), the one its service
// and kind imply.
func (s *Span) Hop() string {
	if h := s.Attr(AttrHop); h != "" {
		return h
	}
	switch {
	case s.Service == "mini-kubectl":
		return HopClient
	case s.Service == "fake-apiserver":
		return HopAPIServer
	case s.Service == "fake-kubelet":
		return HopKubelet
	case strings.HasPrefix(s.Name, "runtime.v1."):
		return HopRuntime
	}
	return ""
}

// Attr returns the event attribute k, or "".
func (e *Event) Attr(k attribute.Key) string { return e.Attrs[string(k)] }

// fromSDK converts a span of this process.
func fromSDK(s sdktrace.ReadOnlySpan) Span {
	out := Span{
		TraceID: s.SpanContext().TraceID().String(),
		SpanID:  s.SpanContext().SpanID().String(),
		Name:    s.Name(),
		Kind:    s.SpanKind().String(),
		Start:   s.StartTime(),
		End:     s.EndTime(),
		Attrs:   sdkAttrs(s.Attributes()),
	}
	if p := s.Parent(); p.IsValid() {
		out.ParentID = p.SpanID().String()
	}
	if v, ok := s.Resource().Set().Value(semconv.ServiceNameKey); ok {
		out.Service = v.Emit()
	}
	for _, e := range s.Events() {
		out.Events = append(out.Events, Event{Time: e.Time, Name: e.Name, Attrs: sdkAttrs(e.Attributes)})
	}
	for _, l := range s.Links() {
		out.Links = append(out.Links, l.SpanContext.TraceID().String())
	}
	if st := s.Status(); st.Code == codes.Error {
		out.Error = st.Description
		if out.Error == "" {
			out.Error = "error"
		}
	}
	return out
}

func sdkAttrs(kvs []attribute.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.Emit()
	}
	return m
}

// fromOTLP converts the spans of one OTLP export request.
func fromOTLP(rss []*tracepb.ResourceSpans) []Span {
	var out []Span
	for _, rs := range rss {
		service := otlpAttrs(rs.GetResource().GetAttributes())[string(semconv.ServiceNameKey)]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				span := Span{
					TraceID: hex.EncodeToString(s.GetTraceId()),
					SpanID:  hex.EncodeToString(s.GetSpanId()),
					Service: service,
					Name:    s.GetName(),
					Kind:    otlpKind(s.GetKind()),
					Start:   unixNano(s.GetStartTimeUnixNano()),
					End:     unixNano(s.GetEndTimeUnixNano()),
					Attrs:   otlpAttrs(s.GetAttributes()),
				}
				if p := s.GetParentSpanId(); len(p) > 0 {
					span.ParentID = hex.EncodeToString(p)
				}
				for _, e := range s.GetEvents() {
					span.Events = append(span.Events, Event{Time: unixNano(e.GetTimeUnixNano()), Name: e.GetName(), Attrs: otlpAttrs(e.GetAttributes())})
				}
				for _, l := range s.GetLinks() {
					span.Links = append(span.Links, hex.EncodeToString(l.GetTraceId()))
				}
				if st := s.GetStatus(); st.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
					span.Error = st.GetMessage()
					if span.Error == "" {
						span.Error = "error"
					}
				}
				out = append(out, span)
			}
		}
	}
	return out
}

func unixNano(ns uint64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(ns))
}

// otlpKind names a kind as the SDK's SpanKind.String does.
func otlpKind(k tracepb.Span_SpanKind) string {
	switch k {
	case tracepb.Span_SPAN_KIND_SERVER:
		return "server"
	case tracepb.Span_SPAN_KIND_CLIENT:
		return "client"
	case tracepb.Span_SPAN_KIND_PRODUCER:
		return "producer"
	case tracepb.Span_SPAN_KIND_CONSUMER:
		return "consumer"
	}
	return "internal"
}

func otlpAttrs(kvs []*commonpb.KeyValue) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.GetKey()] = anyValue(kv.GetValue())
	}
	return m
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	case *commonpb.AnyValue_DoubleValue:
		return strconv.FormatFloat(x.DoubleValue, 'g', -1, 64)
	case *commonpb.AnyValue_ArrayValue:
		parts := make([]string, 0, len(x.ArrayValue.GetValues()))
		for _, e := range x.ArrayValue.GetValues() {
			parts = append(parts, anyValue(e))
		}
		return "[" + strings.Join(parts, ",") + "]"
	}
	return ""
}
