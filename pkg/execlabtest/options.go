package execlabtest

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/kubelet"
)

// Options say what to start. The zero value but StateDir is a one-node
// stack in this process, with a fake-cri, TLS and authentication, on free
// loopback ports.
type Options struct {
	// StateDir receives every component's state, the logs (logs/), the
	// kubeconfig and, with BinDir, the PID files (pids/) and the manifest
	// Attach reads. New defaults it to t.TempDir().
	StateDir string
	// Nodes are the node names, one kubelet and one runtime each. Empty:
	// NodeCount nodes node-1, node-2, …; both empty: one, "node-1".
	Nodes     []string
	NodeCount int
	// CRIEndpoint, when set, is a CRI runtime already running (containerd,
	// unix:///…) that every node's kubelet uses instead of a fake-cri of its
	// own. The stack neither starts nor stops it, so Stop deletes the
	// stack's pods first: nothing else would remove their containers.
	CRIEndpoint string
	// StreamingMode is the apiserver's; empty is its default, translate.
	StreamingMode apiserver.StreamingMode
	// RedirectContainerStreaming makes every kubelet answer exec, attach
	// and port-forward with a redirect to the runtime's streaming URL, and
	// StreamingProxyRedirects makes the apiserver follow such redirects:
	// the kubelets' and kube-apiserver's switches of those names, gone
	// since Kubernetes 1.20 and 1.24, kept for teaching (docs/labs).
	RedirectContainerStreaming bool
	StreamingProxyRedirects    bool
	// KubeletFeatureGates are, by node name, its kubelet's --feature-gates
	// ("Name=bool,..."), such as "ExtendWebSocketsToKubelet=false" for a
	// node that does not declare it (see apiserver.StreamingPerNode).
	KubeletFeatureGates map[string]string
	// Insecure serves plain HTTP with no authentication or authorization
	// anywhere, as the packages do without certificates. In this process
	// only: fake-apiserver always serves HTTPS.
	Insecure bool
	// AdminToken is the bearer token of the kubeconfig's user, admin in
	// system:masters. Empty: the one a previous start left in StateDir, or
	// a new random one.
	AdminToken string
	// Users are token users besides admin.
	Users []User
	// Policy is the apiserver's authorization policy (YAML, see
	// docs/security.md). Empty: a policy file a previous start left in
	// StateDir, which a person may have edited, or one with no rules of its
	// own (the built-in roles alone).
	Policy string
	// MaxStreamingSessions, when set, bounds the sessions of every component.
	MaxStreamingSessions int
	// StreamIdleTimeout, when set, is every fake-cri's.
	StreamIdleTimeout time.Duration
	// TracingEndpoint, when set, is an OTLP/HTTP collector (a Jaeger, say)
	// that the apiserver sends every component's spans on to. The
	// apiserver's live view (/ui/) has them either way: the kubelets and
	// runtimes send theirs to its receiver, on a free loopback port.
	TracingEndpoint string
	// APIServerPort and KubeletPort, when set, are the ports to listen on
	// (KubeletPort only with one node); 0 picks free loopback ports.
	APIServerPort int
	KubeletPort   int
	// BinDir, when set, runs the components as processes of the binaries
	// fake-apiserver, fake-kubelet and fake-cri in it; empty runs them in
	// this process.
	BinDir string
	// Detach, with BinDir, starts each process in a session of its own that
	// outlives the caller (scripts/up.sh's stack); Attach finds it again.
	Detach bool
	// Faults are injected where each says (pkg/faults): in this process
	// through each package's options, as processes through each binary's
	// --fault flags.
	Faults []Fault
}

// Fault is a fault put at one hop of the stack.
type Fault struct {
	// Hop is faults.APIServer, or a node's faults.Kubelet, faults.Runtime
	// or faults.Streaming (the last two are fake-cri's).
	Hop faults.Hop
	// Node names the node of a node's hop; empty is every node.
	Node string
	faults.Fault
}

// faultsAt returns the faults put at hop (of node, for a node's hop).
func (o Options) faultsAt(node string, hops ...faults.Hop) faults.Set {
	var s faults.Set
	for _, f := range o.Faults {
		if slices.Contains(hops, f.Hop) && (f.Node == "" || f.Node == node) {
			s = append(s, f.Fault)
		}
	}
	return s
}

// User is a token user the stack's apiserver knows, besides admin.
type User struct {
	Name string
	// Token empty is the token a previous start in the same state
	// directory gave the user, or a new random one.
	Token  string
	Groups []string
}

// withDefaults checks o and fills in what it leaves to the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.StateDir == "" {
		return o, errors.New("execlabtest: no state directory")
	}
	dir, err := filepath.Abs(o.StateDir)
	if err != nil {
		return o, fmt.Errorf("execlabtest: state directory: %w", err)
	}
	o.StateDir = dir
	if len(o.Nodes) == 0 {
		for i := range max(o.NodeCount, 1) {
			o.Nodes = append(o.Nodes, fmt.Sprintf("node-%d", i+1))
		}
	}
	switch {
	case o.NodeCount != 0 && o.NodeCount != len(o.Nodes):
		return o, fmt.Errorf("execlabtest: %d node names but NodeCount %d", len(o.Nodes), o.NodeCount)
	case o.KubeletPort != 0 && len(o.Nodes) != 1:
		return o, fmt.Errorf("execlabtest: KubeletPort %d with %d nodes: a fixed port serves one kubelet", o.KubeletPort, len(o.Nodes))
	case o.Insecure && o.BinDir != "":
		return o, errors.New("execlabtest: Insecure runs in this process only: fake-apiserver always serves HTTPS")
	case o.Detach && o.BinDir == "":
		return o, errors.New("execlabtest: Detach needs BinDir: only processes outlive the caller")
	}
	for node, gates := range o.KubeletFeatureGates {
		if !slices.Contains(o.Nodes, node) {
			return o, fmt.Errorf("execlabtest: feature gates for node %q, which the stack does not have", node)
		}
		if err := kubelet.NewFeatureGate().Set(gates); err != nil {
			return o, fmt.Errorf("execlabtest: feature gates of node %s: %w", node, err)
		}
	}
	for _, f := range o.Faults {
		switch {
		case !f.Spec().At(f.Hop):
			return o, fmt.Errorf("execlabtest: fault %s is not at the %s: it applies at %v", f.Fault, f.Hop, f.Spec().Hops)
		case f.Hop == faults.APIServer && f.Node != "":
			return o, fmt.Errorf("execlabtest: fault %s at the apiserver names node %q", f.Fault, f.Node)
		case f.Node != "" && !slices.Contains(o.Nodes, f.Node):
			return o, fmt.Errorf("execlabtest: fault %s at node %q, which the stack does not have", f.Fault, f.Node)
		case (f.Hop == faults.Runtime || f.Hop == faults.Streaming) && o.CRIEndpoint != "":
			return o, fmt.Errorf("execlabtest: fault %s at the %s needs fake-cri, not the external runtime %s", f.Fault, f.Hop, o.CRIEndpoint)
		}
	}
	return o, nil
}
