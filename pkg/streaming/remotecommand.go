package streaming

import (
	"context"
	"io"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/execlab/execlab/pkg/tracing"
	"go.opentelemetry.io/otel/attribute"
)

// streamOptions are the client streams an exec or attach request granted.
type streamOptions struct {
	stdin, stdout, stderr, tty bool
	// exec: the session runs a command, whose exit code the session reports.
	exec bool
}

// A remoteCommand is an exec or attach connection once upgraded and with
// its streams set up: what the session needs, whatever the transport.
type remoteCommand struct {
	proto protocol

	stdin       io.ReadCloser  // nil unless granted
	stdout      io.WriteCloser // nil unless granted
	stderr      io.WriteCloser // nil unless granted
	errorStream io.WriteCloser
	resize      io.Reader // nil unless a TTY was granted and proto.resize

	// ctx ends when the connection does: the client went away, it was idle
	// too long, or the server is closing.
	ctx    context.Context
	cancel context.CancelFunc
	// conn closes the whole connection and every stream on it.
	conn io.Closer
	// forget stops tracking conn for Server.Close.
	forget func()
}

// serveRemoteCommand is the one session loop of exec and attach, for every
// protocol version and both transports: it upgrades the request, runs the
// command on the client's streams, reports how it ended on the error stream
// and closes the connection.
func (s *Server) serveRemoteCommand(w http.ResponseWriter, r *http.Request, opts streamOptions, run func(context.Context, Streams) streamStatus) {
	open := s.openSPDY
	if wsstream.IsWebSocketRequest(r) {
		open = s.openWebSocket
	}
	rc, err := open(w, r, opts)
	if err != nil {
		// The transport has answered the client, or the client is gone.
		s.log.Info("Remote command not started", "err", err)
		return
	}

	transport := "spdy"
	if wsstream.IsWebSocketRequest(r) {
		transport = "websocket"
	}
	streamsReady(rc.ctx, rc.proto.name, transport)
	span := trace.SpanFromContext(rc.ctx)
	counts := &streamCounts{span: span}
	streams := counts.count(Streams{Stdin: rc.stdin, Stdout: rc.stdout, Stderr: rc.stderr, TTY: opts.tty})
	var resizes sync.WaitGroup
	if rc.resize != nil {
		sizes := make(chan TerminalSize)
		streams.Resize = sizes
		resizes.Go(func() { forwardResizes(rc.ctx, s.log, rc.resize, sizes) })
	}

	st := run(rc.ctx, streams)
	reason := "command ended"
	if rc.ctx.Err() != nil {
		reason = "connection ended"
	}
	// The exit is recorded now, before the client can learn of it.
	exit := recordExit(rc.ctx, st, opts.exec)
	defer s.sessionEnded(rc.ctx, counts, exit, reason)
	if rc.ctx.Err() != nil {
		// The connection ended first (the client went away, it was idle
		// too long, or the server is closing) and the command was killed
		// for it: that is no outcome to report, and nobody would read it.
		// net/http cancels the request's context at the first failed read
		// of a hijacked connection, so the connection may still take a
		// write here; the close is all the client gets.
		rc.close()
		resizes.Wait()
		return
	}
	if err := rc.finish(st); err != nil {
		// Expected with v1 (the error stream is reset) or a vanished client.
		s.log.Debug("Exit status not delivered", "protocol", rc.proto.name, "err", err)
	}
	resizes.Wait()
}

// recordExit records how the command ended in the session's span: its
// exit code, for an exec, or the failure. It returns the attributes that
// say so, for the span's end.
func recordExit(ctx context.Context, st streamStatus, exec bool) []attribute.KeyValue {
	span := trace.SpanFromContext(ctx)
	if code, ok := st.exitCode(); ok && exec {
		span.AddEvent(tracing.PhaseExited, trace.WithAttributes(tracing.AttrExitCode.Int(code)))
		return []attribute.KeyValue{tracing.AttrExitCode.Int(code)}
	}
	if st.Status == metav1.StatusFailure {
		span.SetStatus(codes.Error, st.Message)
	}
	return nil
}

// sessionEnded records how a session ended, in its span and in the log:
// the bytes of each stream, the exit, and why.
func (s *Server) sessionEnded(ctx context.Context, counts *streamCounts, exit []attribute.KeyValue, reason string) {
	span := trace.SpanFromContext(ctx)
	attrs := append(counts.attrs(), exit...)
	span.SetAttributes(attrs...)
	span.AddEvent(tracing.PhaseClosed, trace.WithAttributes(append(attrs, tracing.AttrReason.String(reason))...))
	logAttrs := []any{"reason", reason}
	for _, a := range attrs {
		logAttrs = append(logAttrs, string(a.Key), a.Value.Emit())
	}
	s.log.InfoContext(ctx, "Streaming session ended", logAttrs...)
}

// finish writes st on the error stream in the protocol's format, then
// closes the connection.
func (rc *remoteCommand) finish(st streamStatus) error {
	var err error
	if b := st.encode(rc.proto); len(b) > 0 {
		_, err = rc.errorStream.Write(b)
	}
	rc.close()
	return err
}

// close ends the session. The output streams are half-closed first, so that
// over SPDY the client reads each to its end before the connection resets.
func (rc *remoteCommand) close() {
	for _, c := range []io.Closer{rc.stdout, rc.stderr, rc.errorStream} {
		if c != nil {
			_ = c.Close()
		}
	}
	_ = rc.conn.Close()
	rc.forget()
	rc.cancel()
}
