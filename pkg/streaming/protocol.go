package streaming

import (
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/streaming/pkg/httpstream/wsstream"
)

// A protocol is one version of the remotecommand subprotocol (exec and
// attach) as one transport names it. Every difference between versions that
// the server acts on is a field here: the session code reads this table and
// never switches on version names. Upstream spreads the same facts over four
// near-identical waitForStreams in cri-streaming's remotecommand/httpstream.go
// and a switch in remotecommand/websocket.go.
type protocol struct {
	// name is the X-Stream-Protocol-Version (SPDY) or Sec-WebSocket-Protocol
	// value.
	name string
	// resize: with a TTY the client sends terminal sizes, as JSON
	// {"Width":N,"Height":M} values, on a resize stream (WebSocket channel 4).
	resize bool
	// statusJSON: the error stream ends the session with a JSON status that
	// carries the exit code, also on success. Otherwise it carries the
	// failure message as plain text, and nothing on success.
	statusJSON bool
	// base64: WebSocket frames are text, an ASCII channel digit followed by
	// base64 data, for clients that cannot send binary frames.
	base64 bool
	// v1Quirks: as soon as the streams exist the server resets the error
	// stream and closes its side of stdin, as kubelet 1.0 did; so a v1
	// client never learns how the command ended (issues.k8s.io/13395).
	v1Quirks bool
}

// spdyProtocols are the versions served over SPDY/3.1, most preferred
// first. httpstream.Handshake picks the first one the client offers.
var spdyProtocols = []protocol{
	// v5 only adds the WebSocket CLOSE signal; SPDY half-closes streams
	// natively, so over SPDY v5 is v4. client-go offers v5 first.
	{name: remotecommand.StreamProtocolV5Name, resize: true, statusJSON: true},
	{name: remotecommand.StreamProtocolV4Name, resize: true, statusJSON: true}, // v4: exit codes
	{name: remotecommand.StreamProtocolV3Name, resize: true},                   // v3: resize
	{name: remotecommand.StreamProtocolV2Name},                                 // v2: fixes v1's stream handling
	{name: remotecommand.StreamProtocolV1Name, v1Quirks: true},
}

// webSocketProtocols are the versions served over WebSocket. Every one has
// the resize channel; only the status format and the frame encoding differ.
// Upstream's CRI server stops at v4; kube-apiserver terminates v5.
var webSocketProtocols = []protocol{
	// No subprotocol at all, as a bare WebSocket client sends: channel.k8s.io.
	{name: "", resize: true},
	{name: wsstream.ChannelWebSocketProtocol, resize: true},
	{name: wsstream.Base64ChannelWebSocketProtocol, resize: true, base64: true},
	{name: "v4." + wsstream.ChannelWebSocketProtocol, resize: true, statusJSON: true},
	{name: "v4." + wsstream.Base64ChannelWebSocketProtocol, resize: true, statusJSON: true, base64: true},
	// v5 adds the CLOSE signal: a [255, channel] message half-closes that
	// client stream, so stdin can end while output still flows. wsstream
	// implements it for this protocol name.
	{name: remotecommand.StreamProtocolV5Name, resize: true, statusJSON: true},
}

// protocolNames lists the names of ps, in order.
func protocolNames(ps []protocol) []string {
	names := make([]string, len(ps))
	for i, p := range ps {
		names[i] = p.name
	}
	return names
}

// findProtocol returns the protocol of ps named name.
func findProtocol(ps []protocol, name string) (protocol, bool) {
	for _, p := range ps {
		if p.name == name {
			return p, true
		}
	}
	return protocol{}, false
}
