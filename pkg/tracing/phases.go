package tracing

import "go.opentelemetry.io/otel/attribute"

// The hops of the chain, in the order an exec crosses them: the lanes of
// the sequence diagram.
const (
	HopClient    = "client"
	HopAPIServer = "apiserver"
	HopKubelet   = "kubelet"
	HopRuntime   = "runtime"
	HopStreaming = "streaming"
)

// Hops lists the hops in order.
var Hops = []string{HopClient, HopAPIServer, HopKubelet, HopRuntime, HopStreaming}

// The phases of a session, recorded as span events at the hop where they
// happen. Each is recorded once per session at a hop, except resize.
const (
	PhaseAuthenticated  = "authenticated"     // apiserver, kubelet: who the caller is
	PhaseAuthorized     = "authorized"        // apiserver, kubelet: the decision
	PhasePodFound       = "pod found"         // apiserver: the pod and its node
	PhaseNodeChosen     = "node chosen"       // apiserver: the kubelet URL
	PhaseKubeletDialled = "kubelet dialled"   // apiserver: the request sent on to the kubelet
	PhaseContainerFound = "container found"   // kubelet: the container ID
	PhaseCRIExec        = "CRI Exec answered" // kubelet: the streaming URL, token masked
	PhaseTokenIssued    = "token issued"      // runtime: the request cached under a token
	PhaseTokenRedeemed  = "token redeemed"    // streaming: the URL used
	PhaseUpgraded       = "upgraded"          // proxies: the 101 as it passes, protocol and transport
	PhaseStreamsReady   = "streams ready"     // streaming: upgraded, and every stream the protocol needs open
	PhaseTranslated     = "translated"        // apiserver, kubelet: WebSocket on one side, SPDY on the other
	PhasePassedThrough  = "passed through"    // apiserver, kubelet: the bytes spliced as they are
	PhaseFallback       = "fallback"          // client: WebSocket refused, SPDY tried
	PhaseRedirected     = "redirected"        // kubelet: sent to the streaming URL; apiserver: followed there (redirect mode)
	PhaseStarted        = "process started"   // streaming: the command runs
	PhaseFirstByte      = "first byte"        // streaming, client: the first output
	PhaseResize         = "resize"            // streaming: a terminal size
	PhaseExited         = "exited"            // streaming, client: the exit code
	PhaseClosed         = "closed"            // every hop: why the session ended
)

// Attribute keys. Kubernetes objects use OpenTelemetry's k8s semantic
// conventions; the rest are execlab's own.
const (
	AttrHop            = attribute.Key("execlab.hop")       // which lane a span belongs to
	AttrSession        = attribute.Key("execlab.session")   // exec, attach, portforward, log
	AttrFrom           = attribute.Key("execlab.from")      // an event is a message from that hop
	AttrTo             = attribute.Key("execlab.to")        // an event is a message to that hop
	AttrProtocol       = attribute.Key("execlab.protocol")  // v5.channel.k8s.io, SPDY/3.1+portforward.k8s.io…
	AttrTransport      = attribute.Key("execlab.transport") // spdy, websocket
	AttrCommand        = attribute.Key("execlab.command")   // the command, space-joined
	AttrURL            = attribute.Key("execlab.url")       // a URL, streaming tokens masked
	AttrRequest        = attribute.Key("execlab.request")   // a request as it arrived: its line and headers, credentials masked
	AttrResponse       = attribute.Key("execlab.response")  // an upgrade answer: its status line and headers
	AttrUser           = attribute.Key("execlab.user")      // the authenticated user
	AttrDecision       = attribute.Key("execlab.decision")  // allow, deny
	AttrVerb           = attribute.Key("execlab.verb")      // the verb authorized: get, create…
	AttrResource       = attribute.Key("execlab.resource")  // the resource authorized: pods/exec…
	AttrReason         = attribute.Key("execlab.reason")    // why: a close, a fallback, a refusal
	AttrStream         = attribute.Key("execlab.stream")    // stdin, stdout, stderr
	AttrExitCode       = attribute.Key("execlab.exit_code") // the command's exit code
	AttrSize           = attribute.Key("execlab.size")      // a terminal size, WxH
	AttrBytesIn        = attribute.Key("execlab.bytes.in")  // bytes from the client side, at this hop
	AttrBytesOut       = attribute.Key("execlab.bytes.out") // bytes to the client side, at this hop
	AttrBytesStdin     = attribute.Key("execlab.bytes.stdin")
	AttrBytesStdout    = attribute.Key("execlab.bytes.stdout")
	AttrBytesStderr    = attribute.Key("execlab.bytes.stderr")
	AttrKubectlSession = attribute.Key("kubectl.session") // kubectl's Kubectl-Session header
	AttrNamespace      = attribute.Key("k8s.namespace.name")
	AttrPod            = attribute.Key("k8s.pod.name")
	AttrContainer      = attribute.Key("k8s.container.name")
	AttrContainerID    = attribute.Key("container.id")
	AttrNode           = attribute.Key("k8s.node.name")
)
