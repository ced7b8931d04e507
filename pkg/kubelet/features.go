package kubelet

import (
	"k8s.io/component-base/featuregate"
)

// ExtendWebSocketsToKubelet is upstream's gate (beta and on since 1.36)
// under which a kubelet serves WebSocket exec, attach and port-forward
// itself and says so on its Node: pkg/kubelet/server translates v5 to SPDY
// towards the runtime and tunnels port-forward, so a 1.36+ apiserver (and
// ours in per-node mode) passes those WebSockets through instead of
// translating them.
const ExtendWebSocketsToKubelet featuregate.Feature = "ExtendWebSocketsToKubelet"

// declarable are the gates that, when on, the node declares in
// status.declaredFeatures (NodeDeclaredFeatures; upstream computes the list
// in pkg/kubelet/kubelet_node_declared_features.go).
var declarable = []featuregate.Feature{ExtendWebSocketsToKubelet}

// FeatureGates are the kubelet's gates, as its --feature-gates flag (a
// flag.Value) sets them.
type FeatureGates interface {
	featuregate.MutableFeatureGate
	String() string
}

// NewFeatureGate is the kubelet's --feature-gates: the gates this kubelet
// knows, at upstream's defaults. Set takes the flag's "Name=bool,..." form.
func NewFeatureGate() FeatureGates {
	g := featuregate.NewFeatureGate()
	if err := g.Add(map[featuregate.Feature]featuregate.FeatureSpec{
		ExtendWebSocketsToKubelet: {Default: true, PreRelease: featuregate.Beta},
	}); err != nil {
		panic(err) // a fresh gate takes any set of distinct names
	}
	return g
}

// declaredFeatures are the features the node declares: the declarable
// gates that are on.
func declaredFeatures(gates featuregate.FeatureGate) []string {
	var declared []string
	for _, f := range declarable {
		if gates.Enabled(f) {
			declared = append(declared, string(f))
		}
	}
	return declared
}
