package streaming

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/trace"

	"encoding/json"
	"io"
	"log/slog"

	"github.com/execlab/execlab/pkg/tracing"
)

// decodeResizes calls fn with each terminal size read from r, a stream of
// JSON values such as {"Width":100,"Height":40} (client-go's v3 resize
// encoding), until r ends, fn returns false, or a value is malformed: that
// error is returned.
func decodeResizes(r io.Reader, fn func(TerminalSize) bool) error {
	dec := json.NewDecoder(r)
	for {
		var size TerminalSize
		if err := dec.Decode(&size); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !fn(size) {
			return nil
		}
	}
}

// forwardResizes delivers the sizes read from r to out, which it closes
// when r ends or ctx is done. Like upstream's handleResizeEvents it gives up
// at the first malformed value, and the session goes on without resizes; it
// then keeps draining r so that a client still sending sizes never stalls
// the connection.
func forwardResizes(ctx context.Context, log *slog.Logger, r io.Reader, out chan<- TerminalSize) {
	span := trace.SpanFromContext(ctx)
	err := decodeResizes(r, func(size TerminalSize) bool {
		span.AddEvent(tracing.PhaseResize, trace.WithAttributes(tracing.AttrSize.String(fmt.Sprintf("%dx%d", size.Width, size.Height))))
		select {
		case out <- size:
			return true
		case <-ctx.Done():
			return false
		}
	})
	close(out)
	if err != nil {
		log.Info("Ignoring further terminal resizes", "err", err)
		_, _ = io.Copy(io.Discard, r)
	}
}
