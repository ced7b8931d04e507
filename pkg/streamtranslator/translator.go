package streamtranslator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	constants "k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/tools/remotecommand"
	clientspdy "k8s.io/client-go/transport/spdy"
	"k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

const (
	// idleTimeout and pingPeriod are upstream's: the kubelet's WebSocket
	// idle timeout, and the SPDY pings that keep the next hop's idle
	// timers from cutting a quiet session.
	idleTimeout = 4 * time.Hour
	pingPeriod  = 5 * time.Second
	// writeStatusDeadline bounds the final status write to a client that
	// no longer reads.
	writeStatusDeadline = 10 * time.Second
)

// Options are the streams a session asked for.
type Options struct {
	Stdin, Stdout, Stderr, TTY bool
}

// Handler translates one WebSocket v5 session to SPDY at Location.
type Handler struct {
	// Location is the next hop's exec or attach URL.
	Location *url.URL
	// Transport dials Location; nil dials directly.
	Transport http.RoundTripper
	Options   Options
}

// ErrNoStatus is why a session whose SPDY side ended without a status
// failed.
var ErrNoStatus = errors.New("the stream to the container ended without the command's exit status: the kubelet or the container runtime went away mid-session")

// New returns the Handler for one session.
func New(location *url.URL, transport http.RoundTripper, opts Options) *Handler {
	return &Handler{Location: location, Transport: transport, Options: opts}
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	ws, err := h.openWebSocket(w, req)
	if err != nil {
		// wsstream has answered the client already.
		return
	}
	defer ws.conn.Close()

	rt, err := spdy.NewRoundTripperWithConfig(spdy.RoundTripperConfig{UpgradeTransport: h.Transport, PingPeriod: pingPeriod})
	if err != nil {
		ws.writeStatus(apierrors.NewInternalError(err))
		return
	}
	upgrader := &statuslessUpgrader{Upgrader: clientspdy.NewUpgraderForStreaming(rt)}
	executor, err := remotecommand.NewSPDYExecutorRejectRedirects(rt, upgrader, http.MethodPost, h.Location)
	if err != nil {
		ws.writeStatus(apierrors.NewInternalError(err))
		return
	}
	opts := remotecommand.StreamOptions{Tty: h.Options.TTY}
	if h.Options.Stdin {
		opts.Stdin = ws.streams[constants.StreamStdIn]
	}
	if h.Options.Stdout {
		opts.Stdout = ws.streams[constants.StreamStdOut]
	}
	if h.Options.Stderr {
		opts.Stderr = ws.streams[constants.StreamStdErr]
	}
	if h.Options.TTY {
		sizes := make(chan remotecommand.TerminalSize)
		go readSizes(req.Context(), ws.streams[constants.StreamResize], sizes)
		opts.TerminalSizeQueue = sizeQueue(sizes)
	}

	err = executor.StreamWithContext(req.Context(), opts)
	var statusErr *apierrors.StatusError
	var exitErr exec.CodeExitError
	switch {
	case errors.As(err, &statusErr):
		ws.writeStatus(statusErr)
	case errors.As(err, &exitErr) && exitErr.Exited():
		ws.writeStatus(exitStatus(exitErr))
	case err != nil:
		ws.writeStatus(apierrors.NewInternalError(err))
	case upgrader.statusless():
		ws.writeStatus(apierrors.NewInternalError(ErrNoStatus))
	default:
		ws.writeStatus(&apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusSuccess}})
	}
}

// webSocket is the client's side of a session.
type webSocket struct {
	conn    *wsstream.Conn
	streams []io.ReadWriteCloser
}

// openWebSocket upgrades the client to v5.channel.k8s.io with the channels
// it asked for, and tells it the session is up with an empty message on the
// lowest channel it reads, as upstream's createWebSocketStreams.
func (h *Handler) openWebSocket(w http.ResponseWriter, req *http.Request) (*webSocket, error) {
	channels := make([]wsstream.ChannelType, constants.StreamResize+1)
	channels[constants.StreamStdIn] = channel(h.Options.Stdin, wsstream.ReadChannel)
	channels[constants.StreamStdOut] = channel(h.Options.Stdout, wsstream.WriteChannel)
	channels[constants.StreamStdErr] = channel(h.Options.Stderr, wsstream.WriteChannel)
	channels[constants.StreamErr] = wsstream.WriteChannel
	// Without a TTY nobody reads the sizes, and an unread channel stalls
	// the others: drop them.
	channels[constants.StreamResize] = channel(h.Options.TTY, wsstream.ReadChannel)
	conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
		constants.StreamProtocolV5Name: {Binary: true, Channels: channels},
	})
	conn.SetIdleTimeout(idleTimeout)
	_, streams, err := conn.Open(w, req)
	if err != nil {
		return nil, err
	}
	ws := &webSocket{conn: conn, streams: streams}
	first := constants.StreamErr
	switch {
	case h.Options.Stdout:
		first = constants.StreamStdOut
	case h.Options.Stderr:
		first = constants.StreamStdErr
	}
	if _, err := ws.streams[first].Write(nil); err != nil {
		conn.Close()
		return nil, fmt.Errorf("telling the WebSocket client the session is up: %w", err)
	}
	return ws, nil
}

func channel(granted bool, t wsstream.ChannelType) wsstream.ChannelType {
	if granted {
		return t
	}
	return wsstream.IgnoreChannel
}

// writeStatus ends the session with status on the error channel. A client
// that is gone cannot be told; nothing else is to be done about it.
func (ws *webSocket) writeStatus(status *apierrors.StatusError) {
	bs, err := json.Marshal(status.Status())
	if err != nil {
		return
	}
	ws.conn.SetWriteDeadline(writeStatusDeadline)
	_, _ = ws.streams[constants.StreamErr].Write(bs)
}

// readSizes decodes the client's terminal sizes into sizes until the
// resize channel or the session ends.
func readSizes(ctx context.Context, stream io.Reader, sizes chan<- remotecommand.TerminalSize) {
	defer close(sizes)
	dec := json.NewDecoder(stream)
	for {
		var size remotecommand.TerminalSize
		if err := dec.Decode(&size); err != nil {
			return
		}
		select {
		case sizes <- size:
		case <-ctx.Done():
			return
		}
	}
}

// sizeQueue hands the client's sizes to the SPDY client.
type sizeQueue <-chan remotecommand.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	size, ok := <-q
	if !ok {
		return nil
	}
	return &size
}

// exitStatus is the NonZeroExitCode status of a command's exit, as the
// streaming server sent it.
func exitStatus(exitErr exec.CodeExitError) *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure,
		Reason: constants.NonZeroExitCodeReason,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{
			{Type: constants.ExitCodeCauseType, Message: fmt.Sprint(exitErr.ExitStatus())},
		}},
		Message: fmt.Sprintf("command terminated with non-zero exit code: %v", exitErr),
	}}
}
