package faults

// Hop is where in the exec path a fault applies.
type Hop string

const (
	// APIServer is the apiserver's proxy (or translator) of exec, attach
	// and port-forward: the connection to the client.
	APIServer Hop = "apiserver"
	// Kubelet is the kubelet API's proxy to the runtime's streaming
	// server: the connection to the apiserver.
	Kubelet Hop = "kubelet"
	// Runtime is the CRI gRPC service (fake-cri's RuntimeService).
	Runtime Hop = "runtime"
	// Streaming is the CRI streaming server behind the runtime's URLs: the
	// connection to the kubelet.
	Streaming Hop = "streaming"
)

// upgradeHops are the hops that answer an upgrade: every fault of the
// connection can be put at any of them.
var upgradeHops = []Hop{APIServer, Kubelet, Streaming}

// Spec describes one fault: the row of the table that the docs render
// (Markdown), the flags parse (Parse) and the hops apply.
type Spec struct {
	Name string
	// Hops are where it can be put.
	Hops   []Hop
	Params []Param
	// Wire is what it does on the wire.
	Wire string
	// Client is what a correct client does about it.
	Client string
	// Expect is what the conformance suite expects of every session the
	// fault meets (conformance.Expect): the sessions run as usual, are
	// refused, or are cut.
	Expect Expect
	// Catches names the deliberately broken client that the fault shows
	// up and the conformance case that catches it (internal/brokenclients).
	Catches string
	// Harness marks a fault no component applies to itself: the harness
	// does it (there is no --fault for it).
	Harness bool
}

// Expect is what a correct client sees of a session a fault meets.
type Expect string

const (
	// Normal: the session runs as it would without the fault.
	Normal Expect = "normal"
	// Refused: the session never starts; the client fails with the
	// server's message (the fault's "message" or "body" parameter, or its
	// own words) and no exit code.
	Refused Expect = "refused"
	// Cut: the session ends early; the client returns within seconds,
	// whatever it reports, and never hangs.
	Cut Expect = "cut"
)

// Param is one parameter of a fault: NAME:param=value,….
type Param struct {
	Name    string
	Default string
	Doc     string
	kind    kind
}

// kind is how a parameter's value is read, and checked by Parse.
type kind int

const (
	kindDuration kind = iota // time.ParseDuration
	kindBytes                // a count of bytes, 0 or more
	kindStatus               // an HTTP status code, 100…599
	kindText                 // anything (no comma: commas separate parameters)
	kindList                 // values separated by |, possibly none
	kindEnum                 // one of the Doc's words in backquotes
	kindCode                 // a gRPC code name (codes.Code's String)
)

// The parameters several faults share.
var (
	streamParam = Param{Name: "stream", Default: "any", kind: kindEnum,
		Doc: "`stdin`, `stdout`, `stderr`, `error`, `resize`, `data` (port-forward), or `any`: every frame towards the client"}
	bytesParam  = Param{Name: "bytes", Default: "0", kind: kindBytes, Doc: "payload bytes of the stream that pass first"}
	sessionKind = Param{Name: "session", Default: "any", kind: kindEnum, Doc: "`exec`, `attach`, `portforward` or `any`: the sessions it applies to"}
	rpcParam    = Param{Name: "rpc", Default: "Exec", kind: kindEnum, Doc: "`Exec`, `Attach` or `PortForward`: the CRI call"}
)

// Table is every fault. Its rows are the one source of the docs' table
// (docs/testing.md, checked by test/docs) and of what Parse accepts.
var Table = []Spec{
	{
		Name:    "upgrade-delay",
		Hops:    upgradeHops,
		Params:  []Param{{Name: "d", Default: "2s", kind: kindDuration, Doc: "how long"}, sessionKind},
		Wire:    "holds the upgrade request for `d` before the hop passes it on (or answers it); the client waits for its `101`",
		Client:  "waits: no timeout of its own shorter than the cluster's (client-go and kubectl have none); then the session runs as usual",
		Expect:  Normal,
		Catches: "`impatient` (gives up after 1 s without a byte), by `stdout-stderr`",
	},
	{
		Name:    "frame-delay",
		Hops:    upgradeHops,
		Params:  []Param{{Name: "d", Default: "100ms", kind: kindDuration, Doc: "how long, per frame"}, streamParam, sessionKind},
		Wire:    "after the upgrade, holds each SPDY or WebSocket frame of `stream` for `d` before passing it on (stdin and resize come from the client; stdout, stderr and error go to it; data both ways)",
		Client:  "keeps waiting between frames: the output arrives complete and in order, and the exit code is right",
		Expect:  Normal,
		Catches: "`impatient`, by `stdout-stderr`",
	},
	{
		Name: "refuse-upgrade",
		Hops: upgradeHops,
		Params: []Param{
			{Name: "status", Default: "503", kind: kindStatus, Doc: "the HTTP status answered"},
			{Name: "body", kind: kindText, Doc: "the body, as text; by default a `metav1.Status` with the status's reason"},
			{Name: "transport", Default: "any", kind: kindEnum, Doc: "`spdy`, `websocket` or `any`: the upgrades refused"},
			sessionKind,
		},
		Wire:    "answers the upgrade request with `status` and `body` instead of `101`",
		Client:  "a WebSocket upgrade refused (any answer but `101`) falls back to SPDY (client-go and kubectl ≥ 1.30); an SPDY upgrade refused fails with the server's message (the Status's, else the body) and a non-zero exit, without retrying",
		Expect:  Refused,
		Catches: "with `transport=websocket`: `no-fallback`, by `stdout-stderr`; otherwise `optimist` (takes a refusal for success), by `stdout-stderr`",
	},
	{
		Name: "protocols",
		Hops: upgradeHops,
		Params: []Param{
			{Name: "spdy", kind: kindList, Doc: "the `X-Stream-Protocol-Version`s offered, such as `v4.channel.k8s.io|v3.channel.k8s.io`; unset: all"},
			{Name: "websocket", kind: kindList, Doc: "the WebSocket subprotocols offered; empty (`websocket=`): none; unset: all"},
			sessionKind,
		},
		Wire:    "the hop offers only these versions: it drops the others from the client's `X-Stream-Protocol-Version` or `Sec-WebSocket-Protocol` before passing the request on, and answers `403` (as `httpstream.Handshake`) when none is left",
		Client:  "speaks the version the server chose; with no WebSocket version in common, falls back to SPDY",
		Expect:  Normal,
		Catches: "with `websocket=`: `no-fallback`, by `stdout-stderr`",
	},
	{
		Name:    "close-after",
		Hops:    upgradeHops,
		Params:  []Param{bytesParam, streamParam, sessionKind},
		Wire:    "once `bytes` payload bytes of `stream` have passed (with `any`: `bytes` bytes towards the client, then at once), at the end of that frame, closes the connection (FIN)",
		Client:  "ends the session within seconds and never hangs; over WebSocket it reports the abnormal close; over SPDY client-go cannot tell a cut error stream from success (remotecommand's `watchErrorStream`) and returns what output arrived",
		Expect:  Cut,
		Catches: "`ignores-close` (waits on after the server closed), by `attach`",
	},
	{
		Name:    "reset-after",
		Hops:    upgradeHops,
		Params:  []Param{bytesParam, streamParam, sessionKind},
		Wire:    "as `close-after`, but resets the connection: `SO_LINGER` 0, then close, so the peer gets an RST",
		Client:  "as for `close-after`; a reset is an error, never success",
		Expect:  Cut,
		Catches: "`ignores-close`, by `attach`",
	},
	{
		Name: "stall",
		Hops: upgradeHops,
		Params: []Param{
			{Name: "stream", Default: "stdout", kind: kindEnum, Doc: streamParam.Doc},
			{Name: "after", Default: "0", kind: kindBytes, Doc: "payload bytes of the stream that pass first"},
			sessionKind,
		},
		Wire:    "after `after` payload bytes of `stream`, at the end of that frame, passes nothing more in that direction (towards the client, what the hop writes is taken and dropped, as by a path that delivers nothing; one TCP connection is one byte stream, so the other streams that way stall too); the connection stays open",
		Client:  "cannot tell a stall from a quiet command, so it waits, and ends the session as soon as its caller gives up (a context, Ctrl-C): it closes the connection, which hangs up the command",
		Expect:  Normal,
		Catches: "`ignores-cancel` (streams without a context), by `cancel`",
	},
	{
		Name: "cri-error",
		Hops: []Hop{Runtime},
		Params: []Param{
			rpcParam,
			{Name: "code", Default: "Unavailable", kind: kindCode, Doc: "the gRPC code, by name"},
			{Name: "message", Default: "injected by fault cri-error", kind: kindText, Doc: "the gRPC message"},
		},
		Wire:    "the runtime answers the CRI call with the gRPC status `code` and `message`; the kubelet answers the upgrade with `500` and a Status carrying the message",
		Client:  "fails with the message and a non-zero exit; a WebSocket attempt refused so falls back to SPDY once, which fails alike",
		Expect:  Refused,
		Catches: "`optimist`, by `stdout-stderr`",
	},
	{
		Name: "streaming-url",
		Hops: []Hop{Runtime},
		Params: []Param{
			rpcParam,
			{Name: "form", Default: "relative", kind: kindEnum, Doc: "`relative` (`/exec/TOKEN`) or `schemeless` (`127.0.0.1:PORT/exec/TOKEN`)"},
		},
		Wire:    "the runtime answers the CRI call with a streaming URL that is not absolute, as cri-dockerd did to kubelets ≥ 1.36, which resolve no relative URL; this kubelet refuses it with `500` and a Status saying so",
		Client:  "fails with the kubelet's message and a non-zero exit",
		Expect:  Refused,
		Catches: "`optimist`, by `stdout-stderr`",
	},
	{
		Name:    "token-expiry",
		Hops:    []Hop{Streaming},
		Params:  []Param{{Name: "after", Default: "0s", kind: kindDuration, Doc: "the tokens' life instead of a minute; 0: expired when used"}},
		Wire:    "the streaming server's one-time tokens expire after `after`: the kubelet's upgrade gets `404` \"unknown, used or expired streaming token\", passed on as a Status",
		Client:  "fails with that message and a non-zero exit",
		Expect:  Refused,
		Catches: "`optimist`, by `stdout-stderr`",
	},
	{
		Name:    "kill",
		Hops:    []Hop{APIServer, Kubelet, Runtime},
		Harness: true,
		Wire:    "the component dies mid-session: in a test process `Component.Kill` (pkg/execlabtest) cancels it, which closes its listeners and connections; a process gets `SIGKILL`",
		Client:  "ends the session within seconds, as for `close-after`",
		Expect:  Cut,
		Catches: "`ignores-close`, by `attach`",
	},
}

// Lookup returns the spec of the fault named name.
func Lookup(name string) (Spec, bool) {
	for _, s := range Table {
		if s.Name == name {
			return s, true
		}
	}
	return Spec{}, false
}

// At reports whether the fault can be put at hop.
func (s Spec) At(hop Hop) bool {
	for _, h := range s.Hops {
		if h == hop {
			return true
		}
	}
	return false
}

func (s Spec) param(name string) (Param, bool) {
	for _, p := range s.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}
