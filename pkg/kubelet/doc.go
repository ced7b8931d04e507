// Package kubelet is a small kubelet: it registers a Node, runs the pods
// bound to it on a CRI runtime over gRPC, reports their status, and serves
// the kubelet API (exec, attach, port-forward, container logs, /pods,
// /healthz, /debug/pprof) that the apiserver proxies `kubectl exec` and
// friends to.
//
// It follows the upstream kubelet where the wire is concerned — the CRI
// requests it sends (pkg/kubelet/kuberuntime), the pod and node status it
// writes (pkg/kubelet/status, pkg/kubelet/nodestatus) and the HTTP API it
// answers (pkg/kubelet/server/server.go) — and leaves out what a single
// machine without CNI, volumes or probes does not need. Every pod uses the
// node's network.
//
// An exec request travels through it like this: the handler resolves the
// pod and the running container, asks the runtime for an exec session
// (RuntimeService/Exec), and proxies the client's upgraded connection to the
// URL the runtime answers.
package kubelet
