// Command execlab-bench is the whole-chain benchmark of issue 14: our exec
// chain (fake-apiserver → fake-kubelet → fake-cri's streaming server, the
// binaries of bin/) beside a chain of upstream's parts of the same shape
// (k8s.io/apiserver's StreamTranslatorHandler and apimachinery's
// UpgradeAwareHandler at an apiserver and a kubelet, k8s.io/cri-streaming's
// server over local processes), driven by the same client-go code, one
// column after the other, every byte checked. It prints one table and
// writes it, with per-process figures and CPU profiles; docs/performance.md
// shows it and says how each figure is taken.
//
// The files, in the order a run goes:
//
//	main.go      flags, the run: start the chains, the sections, the output, the clean-up
//	chains.go    the two chains, and the ways into each (apiserver, kubelet, streaming server)
//	upstream.go  the upstream parts, each this program run as "role NAME"
//	client.go    the client: client-go's executors, checked transfers, `true`, idle sessions
//	cases.go     the sections: verification, limits, latency, stdout and stdin, kubectl
//	sessions.go  the idle-session rounds and their leak check
//	labels.go    what our streaming server spoke for a passed-through WebSocket
//	measure.go   readings of a chain's processes; pprof: goroutines, heap, CPU profiles
//	procstat.go  /proc: CPU, syscalls, RSS, fds, children
//	table.go     the table: rows, medians and spreads, ratios, markdown
//
// bench/payload is the stream the transfers move and the command
// (cmd/execlab-bench-payload) that writes or checks it in the pod.
package main
