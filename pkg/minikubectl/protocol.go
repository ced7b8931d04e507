package minikubectl

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/tools/remotecommand"
	"k8s.io/client-go/transport/spdy"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// protocol is the --protocol flag: which upgrade exec, attach and
// port-forward use. kubectl has no such flag; auto is what it does.
type protocol string

const (
	protocolAuto      protocol = "auto"
	protocolWebSocket protocol = "websocket"
	protocolSPDY      protocol = "spdy"
)

func (p *protocol) String() string { return string(*p) }
func (p *protocol) Type() string   { return "protocol" }

func (p *protocol) Set(s string) error {
	*p = protocol(s)
	return p.validate()
}

func (p protocol) validate() error {
	switch p {
	case protocolAuto, protocolWebSocket, protocolSPDY:
		return nil
	}
	return fmt.Errorf("--protocol must be auto, websocket or spdy, not %q", string(p))
}

// kubectl's feature switches (kubectl/pkg/cmd/util/helpers.go, FeatureGate):
// set to "false", they turn off the WebSocket attempt.
const (
	remoteCommandWebsocketsEnv = "KUBECTL_REMOTE_COMMAND_WEBSOCKETS"
	portForwardWebsocketsEnv   = "KUBECTL_PORT_FORWARD_WEBSOCKETS"
)

// resolve turns auto into spdy when kubectl's switch env is "false", as
// FeatureGate.IsDisabled reads it.
func (p protocol) resolve(env string) protocol {
	if p == protocolAuto && strings.EqualFold(os.Getenv(env), "false") {
		return protocolSPDY
	}
	return p
}

// shouldFallback is kubectl's rule for leaving WebSocket for SPDY: the
// upgrade was refused (any non-101 answer, or a 101 with a subprotocol we did
// not ask for) or an HTTPS proxy cannot carry it. A connection that fails
// any other way is an error, not a reason to retry. client-go v0.37 reports
// these with k8s.io/streaming's error types, as current kubectl tests them
// (portforward.go, createDialer); apimachinery's predicate of the same name
// would never match, and WebSocket would never fall back.
func shouldFallback(err error) bool {
	return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
}

// newExecutor mirrors createExecutor in kubectl/pkg/cmd/exec/exec.go (and
// attach.go): WebSocket (a GET, as RFC 6455 requires) speaking
// v5.channel.k8s.io, falling back to SPDY (a POST offering v5…v1) when
// fallback says so (shouldFallback).
func newExecutor(config *rest.Config, u *url.URL, p protocol, fallback func(error) bool) (remotecommand.Executor, error) {
	switch p.resolve(remoteCommandWebsocketsEnv) {
	case protocolSPDY:
		return remotecommand.NewSPDYExecutor(config, http.MethodPost, u)
	case protocolWebSocket:
		return remotecommand.NewWebSocketExecutor(config, http.MethodGet, u.String())
	}
	spdyExec, err := remotecommand.NewSPDYExecutor(config, http.MethodPost, u)
	if err != nil {
		return nil, err
	}
	wsExec, err := remotecommand.NewWebSocketExecutor(config, http.MethodGet, u.String())
	if err != nil {
		return nil, err
	}
	return remotecommand.NewFallbackExecutor(wsExec, spdyExec, fallback)
}

// newPortForwardDialer mirrors createDialer in
// kubectl/pkg/cmd/portforward/portforward.go: SPDY, or since kubectl 1.31
// SPDY tunnelled inside a WebSocket (subprotocol SPDY/3.1+portforward.k8s.io),
// falling back to plain SPDY.
func newPortForwardDialer(config *rest.Config, u *url.URL, p protocol) (streamhttp.Dialer, error) {
	transport, upgrader, err := spdy.RoundTripperFor(config)
	if err != nil {
		return nil, err
	}
	spdyDialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	switch p.resolve(portForwardWebsocketsEnv) {
	case protocolSPDY:
		return spdyDialer, nil
	case protocolWebSocket:
		return portforward.NewSPDYOverWebsocketDialerForStreaming(u, config)
	}
	tunneling, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, config)
	if err != nil {
		return nil, err
	}
	return portforward.NewFallbackDialerForStreaming(tunneling, spdyDialer, shouldFallback), nil
}
