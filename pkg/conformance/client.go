package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	clientremotecommand "k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// Client is what the cases drive: a client of the exec path. The suite's
// own (NewClient) is client-go, as kubectl uses it; Kubectl runs a kubectl
// binary; internal/brokenclients wraps the suite's own with one defect
// each. A client that cannot do what a case asks returns an error wrapping
// ErrUnsupported, and the case is not applicable to it.
type Client interface {
	// Name says which client it is, for the report.
	Name() string
	// Stream runs an exec or attach session to its end. The command's
	// exit code, when not 0, is an error satisfying
	// k8s.io/client-go/util/exec.ExitError.
	Stream(ctx context.Context, req StreamRequest) error
	// PortForward forwards a local port on 127.0.0.1 to req.Port of the
	// pod until ctx ends, and returns once the port listens.
	PortForward(ctx context.Context, req PortForwardRequest) (*Forward, error)
	// Logs streams a container's log.
	Logs(ctx context.Context, req LogsRequest) (io.ReadCloser, error)
}

// ErrUnsupported says a client cannot do what a case asks; Unsupported
// says what.
var ErrUnsupported = errors.New("the client cannot do this")

// Unsupported is the error of a client that cannot do what: it is
// ErrUnsupported, and the case's reason is what.
func Unsupported(what string) error { return &unsupported{what} }

type unsupported struct{ what string }

func (u *unsupported) Error() string        { return u.what }
func (u *unsupported) Is(target error) bool { return target == ErrUnsupported }

// StreamRequest is one exec or attach session.
type StreamRequest struct {
	// Subresource is "exec" or "attach".
	Subresource               string
	Namespace, Pod, Container string
	Command                   []string
	// The streams the client asks for are those set: stdin=true when
	// Stdin is, and so on.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	TTY            bool
	// Sizes are the terminal's sizes, the first the initial one.
	Sizes clientremotecommand.TerminalSizeQueue
	// Protocol is the transport and version to speak.
	Protocol Protocol
	// Versions, when set, are offered instead of the protocol's own:
	// SPDY's X-Stream-Protocol-Versions or WebSocket's subprotocols.
	Versions []string
	// Fallback, with a WebSocket protocol: a refused upgrade is tried
	// again over SPDY, as kubectl does.
	Fallback bool
}

// PortForwardRequest is one port-forward session. Its protocol is SPDY,
// or for a WebSocket one SPDY tunnelled in WebSocket, as kubectl ≥ 1.31.
type PortForwardRequest struct {
	Namespace, Pod string
	Port           int
	Protocol       Protocol
}

// Forward is a running port-forward.
type Forward struct {
	// Addr is the local address, 127.0.0.1:PORT.
	Addr string
	// Done yields the forward's end: nil when its context ended.
	Done <-chan error
}

// LogsRequest is one container log request.
type LogsRequest struct {
	Namespace, Pod, Container string
	Options                   corev1.PodLogOptions
}

// NewClient is the suite's own client: client-go's remotecommand and
// portforward, as kubectl ≥ 1.31 drives them (kubectl/pkg/cmd/exec,
// attach, portforward), but that the protocol is the one asked for.
func NewClient(config *rest.Config) (Client, error) {
	cs, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	return &clientGo{config: rest.CopyConfig(config), clientset: cs}, nil
}

type clientGo struct {
	config    *rest.Config
	clientset kubernetes.Interface
}

func (c *clientGo) Name() string { return "client-go" }

func (c *clientGo) Stream(ctx context.Context, req StreamRequest) error {
	var opts runtime.Object
	if req.Subresource == "attach" {
		opts = &corev1.PodAttachOptions{Container: req.Container, Stdin: req.Stdin != nil, Stdout: req.Stdout != nil, Stderr: req.Stderr != nil, TTY: req.TTY}
	} else {
		opts = &corev1.PodExecOptions{Container: req.Container, Command: req.Command, Stdin: req.Stdin != nil, Stdout: req.Stdout != nil, Stderr: req.Stderr != nil, TTY: req.TTY}
	}
	u := c.clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(req.Namespace).Name(req.Pod).
		SubResource(req.Subresource).VersionedParams(opts, scheme.ParameterCodec).URL()
	exec, err := c.executor(u, req)
	if err != nil {
		return err
	}
	return exec.StreamWithContext(ctx, clientremotecommand.StreamOptions{
		Stdin: req.Stdin, Stdout: req.Stdout, Stderr: req.Stderr, Tty: req.TTY, TerminalSizeQueue: req.Sizes,
	})
}

// spdyVersions are what client-go's SPDY executor offers, newest first.
var spdyVersions = []string{
	remotecommand.StreamProtocolV5Name, remotecommand.StreamProtocolV4Name, remotecommand.StreamProtocolV3Name,
	remotecommand.StreamProtocolV2Name, remotecommand.StreamProtocolV1Name,
}

// executor is SPDY (a POST) or WebSocket (a GET, as RFC 6455 requires)
// offering the request's versions, falling back to SPDY if asked.
func (c *clientGo) executor(u *url.URL, req StreamRequest) (clientremotecommand.Executor, error) {
	spdyExec := func(versions []string) (clientremotecommand.Executor, error) {
		transport, upgrader, err := spdy.RoundTripperFor(c.config)
		if err != nil {
			return nil, err
		}
		return clientremotecommand.NewSPDYExecutorForProtocols(transport, upgrader, http.MethodPost, u, versions...)
	}
	if !req.Protocol.WebSocket() {
		return spdyExec(orDefault(req.Versions, spdyVersions))
	}
	ws, err := clientremotecommand.NewWebSocketExecutorForProtocols(c.config, http.MethodGet, u.String(), orDefault(req.Versions, []string{req.Protocol.version()})...)
	if err != nil || !req.Fallback {
		return ws, err
	}
	secondary, err := spdyExec(spdyVersions)
	if err != nil {
		return nil, err
	}
	return clientremotecommand.NewFallbackExecutor(ws, secondary, shouldFallback)
}

// shouldFallback is kubectl's rule for leaving WebSocket for SPDY: the
// upgrade was refused, or an HTTPS proxy cannot carry it.
func shouldFallback(err error) bool {
	return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
}

func orDefault(v, def []string) []string {
	if len(v) > 0 {
		return v
	}
	return def
}

func (c *clientGo) PortForward(ctx context.Context, req PortForwardRequest) (*Forward, error) {
	u := c.clientset.CoreV1().RESTClient().Post().Resource("pods").Namespace(req.Namespace).Name(req.Pod).SubResource("portforward").URL()
	var dialer streamhttp.Dialer
	if req.Protocol.WebSocket() {
		var err error
		if dialer, err = portforward.NewSPDYOverWebsocketDialerForStreaming(u, c.config); err != nil {
			return nil, err
		}
	} else {
		transport, upgrader, err := spdy.RoundTripperFor(c.config)
		if err != nil {
			return nil, err
		}
		dialer = spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	}
	ready := make(chan struct{})
	fw, err := portforward.NewOnAddressesForStreamingWithContext(ctx, dialer, []string{"127.0.0.1"}, []string{"0:" + strconv.Itoa(req.Port)}, ready, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- fw.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-done:
		return nil, err
	}
	ports, err := fw.GetPorts()
	if err != nil {
		return nil, err
	}
	return &Forward{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports[0].Local))), Done: done}, nil
}

func (c *clientGo) Logs(ctx context.Context, req LogsRequest) (io.ReadCloser, error) {
	opts := req.Options
	opts.Container = req.Container
	rc, err := c.clientset.CoreV1().Pods(req.Namespace).GetLogs(req.Pod, &opts).Stream(ctx)
	if err != nil {
		return nil, fmt.Errorf("logs of %s/%s: %w", req.Pod, req.Container, err)
	}
	return rc, nil
}
