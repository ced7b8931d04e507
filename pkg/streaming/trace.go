package streaming

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/tracing"
)

// A session is one span at the streaming server, a child of the CRI call
// that issued its token (the token is what ties the two: the kubelet's
// proxied request is a separate connection). Its phases are span events;
// the bytes of each stream are counted as they pass and set once, at the
// end. Nothing here runs per frame but an add.

// cachedRequest is what a token stands for: the CRI request, and the trace
// context of the call that asked for it.
type cachedRequest struct {
	req   any // *runtimeapi.ExecRequest, *AttachRequest or *PortForwardRequest
	trace trace.SpanContext
}

// startSession starts the session span of a redeemed token.
func (s *Server) startSession(r *http.Request, kind string, c cachedRequest) (context.Context, trace.Span) {
	ctx := trace.ContextWithRemoteSpanContext(r.Context(), c.trace)
	attrs := []attribute.KeyValue{tracing.AttrHop.String(tracing.HopStreaming), tracing.AttrSession.String(kind)}
	switch req := c.req.(type) {
	case *runtimeapi.ExecRequest:
		attrs = append(attrs, tracing.AttrContainerID.String(req.ContainerId), tracing.AttrCommand.String(strings.Join(req.Cmd, " ")))
	case *runtimeapi.AttachRequest:
		attrs = append(attrs, tracing.AttrContainerID.String(req.ContainerId))
	}
	attrs = append(attrs, tracing.RequestAttr(r))
	opts := []trace.SpanStartOption{trace.WithAttributes(attrs...)}
	// The proxied request's own trace context, when it has one, is the
	// kubelet's span: linked, since the parent is the CRI call.
	from := tracing.HopClient
	if in := trace.SpanContextFromContext(tracing.Extract(context.Background(), r.Header)); in.IsValid() {
		from = tracing.HopKubelet
		if !c.trace.IsValid() {
			ctx = trace.ContextWithRemoteSpanContext(r.Context(), in)
		} else if in.TraceID() != c.trace.TraceID() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: in}))
		}
	}
	ctx, span := s.tracer.Start(ctx, kind+" session", opts...)
	span.AddEvent(tracing.PhaseTokenRedeemed, trace.WithAttributes(tracing.AttrFrom.String(from), tracing.AttrURL.String(tracing.MaskToken(r.URL.Path))))
	return ctx, span
}

// streamsReady records that a session's connection is upgraded and its
// streams open, and the protocol it speaks. It is a note: the proxies
// record the upgrade answer as it travels back.
func streamsReady(ctx context.Context, proto, transport string) {
	trace.SpanFromContext(ctx).AddEvent(tracing.PhaseStreamsReady, trace.WithAttributes(
		tracing.AttrProtocol.String(proto), tracing.AttrTransport.String(transport)))
}

// streamCounts counts the bytes of a session's streams.
type streamCounts struct {
	span                  trace.Span
	stdin, stdout, stderr atomic.Int64
	first                 sync.Once
}

// count wraps the session's streams so that they are counted.
func (c *streamCounts) count(s Streams) Streams {
	if s.Stdin != nil {
		s.Stdin = tracing.CountReads(s.Stdin, &c.stdin)
	}
	if s.Stdout != nil {
		s.Stdout = &countingWriter{s.Stdout, &c.stdout, c, "stdout"}
	}
	if s.Stderr != nil {
		s.Stderr = &countingWriter{s.Stderr, &c.stderr, c, "stderr"}
	}
	return s
}

// attrs are the counts, for the span's end.
func (c *streamCounts) attrs() []attribute.KeyValue {
	return []attribute.KeyValue{
		tracing.AttrBytesStdin.Int64(c.stdin.Load()),
		tracing.AttrBytesStdout.Int64(c.stdout.Load()),
		tracing.AttrBytesStderr.Int64(c.stderr.Load()),
	}
}

type countingWriter struct {
	w      io.WriteCloser
	n      *atomic.Int64
	c      *streamCounts
	stream string
}

func (w *countingWriter) Write(p []byte) (int, error) {
	if len(p) > 0 {
		w.c.first.Do(func() {
			w.c.span.AddEvent(tracing.PhaseFirstByte, trace.WithAttributes(tracing.AttrStream.String(w.stream)))
		})
	}
	n, err := w.w.Write(p)
	w.n.Add(int64(n))
	return n, err
}

func (w *countingWriter) Close() error { return w.w.Close() }
