package streaming

import (
	"context"
	"io"
)

// Runtime runs what a streaming session asks for. It mirrors the Runtime
// interface of k8s.io/cri-streaming/pkg/streaming/server.go, with the
// per-session streams gathered in one struct.
//
// ctx ends when the session does: the client went away, the connection was
// idle for Config.StreamIdleTimeout, or the server is closing. Every method
// must then return promptly (for example by killing the command), since
// Server.Close waits for them.
//
// A command that exits non-zero must be reported as an error satisfying
// k8s.io/utils/exec.ExitError (for example exec.CodeExitError), so that the
// session can send the exit code to the client.
type Runtime interface {
	Exec(ctx context.Context, containerID string, cmd []string, s Streams) error
	Attach(ctx context.Context, containerID string, s Streams) error
	PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error
}

// Streams are the client's streams of one exec or attach session. A stream the
// client did not ask for is nil.
type Streams struct {
	// Stdin reaches EOF when the client ends its input (SPDY v2+ half-close,
	// WebSocket v5 CLOSE signal) or the session ends.
	Stdin  io.Reader
	Stdout io.WriteCloser
	Stderr io.WriteCloser
	TTY    bool
	// Resize delivers terminal size changes while TTY is set and the
	// protocol version has them; it is nil otherwise. It is closed when the
	// client's resize stream ends: at the end of the session, or early if
	// the client sends a malformed size.
	Resize <-chan TerminalSize
}

// TerminalSize is a terminal's width and height in characters.
type TerminalSize struct {
	Width  uint16
	Height uint16
}
