package minikubectl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/util/exec"

	"github.com/execlab/execlab/pkg/tracing"
)

// sessionTrace is --trace: the command's own span, whose trace context
// every request of the command carries (traceparent), and, once the
// command has ended, the timeline of the whole session across every hop,
// fetched from the apiserver's live view and printed. kubectl has no such
// flag; kubectl's requests carry no trace context, so the apiserver starts
// the trace of each of them.
type sessionTrace struct {
	tp    *tracing.Provider
	local *tracing.Store
	span  trace.Span
}

// startTrace starts the command's span, for a session of kind on pod.
func startTrace(ctx context.Context, kind string, attrs ...attribute.KeyValue) (context.Context, *sessionTrace, error) {
	local := tracing.NewStore(0)
	tp, err := tracing.New(tracing.Config{Service: "mini-kubectl", Sink: local})
	if err != nil {
		return ctx, nil, err
	}
	attrs = append(attrs, tracing.AttrHop.String(tracing.HopClient), tracing.AttrSession.String(kind))
	ctx, span := tp.Tracer().Start(ctx, "mini-kubectl "+kind, trace.WithAttributes(attrs...))
	return ctx, &sessionTrace{tp: tp, local: local, span: span}, nil
}

// fallback records that WebSocket was refused and SPDY comes next.
func (t *sessionTrace) fallback(err error) {
	if t != nil {
		t.span.AddEvent(tracing.PhaseFallback, trace.WithAttributes(tracing.AttrReason.String(err.Error())))
	}
}

// traceWait bounds how long print waits for every hop's spans to arrive
// (they are exported every tracing.ExportInterval) once the session ended.
const traceWait = 3 * time.Second

// end ends the command's span with how the command ended, waits until the
// apiserver has the session's spans from every hop that sends any, and
// prints its timeline to w, and with headers what each hop received.
func (t *sessionTrace) end(ctx context.Context, s *session, cmdErr error, headers bool, w io.Writer) error {
	var exitErr exec.ExitError
	switch {
	case cmdErr == nil:
		t.span.SetAttributes(tracing.AttrExitCode.Int(0))
		t.span.AddEvent(tracing.PhaseExited, trace.WithAttributes(tracing.AttrExitCode.Int(0)))
	case errors.As(cmdErr, &exitErr):
		t.span.SetAttributes(tracing.AttrExitCode.Int(exitErr.ExitStatus()))
		t.span.AddEvent(tracing.PhaseExited, trace.WithAttributes(tracing.AttrExitCode.Int(exitErr.ExitStatus())))
	default:
		t.span.AddEvent(tracing.PhaseClosed, trace.WithAttributes(tracing.AttrReason.String(cmdErr.Error())))
	}
	t.span.End()
	if err := t.tp.Shutdown(ctx); err != nil {
		return err
	}
	id := t.span.SpanContext().TraceID().String()
	mine, _ := t.local.Trace(id)
	// The fetch is no part of the session: no trace context.
	detail, err := t.fetch(trace.ContextWithSpanContext(ctx, trace.SpanContext{}), s, id)
	if err != nil {
		return fmt.Errorf("trace %s: %w", id, err)
	}
	spans := append(mine, detail.Spans...)
	fmt.Fprintf(w, "\ntrace %s: %s %s/%s, %s over %s, hops: %s\n", detail.Session.TraceID, detail.Session.Kind,
		detail.Session.Namespace, detail.Session.Pod, detail.Session.Protocol, detail.Session.Transport, strings.Join(detail.Session.Hops, " → "))
	if err := tracing.WriteText(w, tracing.Timeline(spans)); err != nil || !headers {
		return err
	}
	return tracing.WriteHeaders(w, spans)
}

// fetch gets the session from the apiserver's live view, again until it has
// ended and the session spans of the apiserver, the kubelet and the
// streaming server are in, or traceWait has passed (a runtime such as
// containerd sends none).
func (t *sessionTrace) fetch(ctx context.Context, s *session, id string) (tracing.SessionDetail, error) {
	deadline := time.Now().Add(traceWait)
	for {
		// A fresh value each time: json.Unmarshal would merge into the
		// maps of the last answer.
		var d tracing.SessionDetail
		body, err := s.client.CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions", id).DoRaw(ctx)
		if err == nil {
			err = json.Unmarshal(body, &d)
		}
		done := err == nil && !d.Session.Running && sessionSpans(d.Spans, tracing.HopAPIServer, tracing.HopKubelet, tracing.HopStreaming)
		if done || time.Now().After(deadline) {
			if err == nil && d.Session.TraceID == "" {
				err = errors.New("the apiserver has no such session")
			}
			return d, err
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(tracing.ExportInterval):
		}
	}
}

// sessionSpans reports whether spans hold the session span of each of hops.
func sessionSpans(spans []tracing.Span, hops ...string) bool {
	for _, hop := range hops {
		if !slices.ContainsFunc(spans, func(sp tracing.Span) bool { return sp.Hop() == hop && sp.Attr(tracing.AttrSession) != "" }) {
			return false
		}
	}
	return true
}
