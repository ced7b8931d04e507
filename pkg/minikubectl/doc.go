// Package minikubectl is a small kubectl built on client-go, written to be
// read: each command does what kubectl does, in the same order, with the
// same client-go calls and the same messages, in a few dozen lines.
//
// Where each command comes from (kubernetes/kubernetes, staging/src/k8s.io/kubectl):
//
//	exec          pkg/cmd/exec/exec.go              GET pod, pick container, POST/GET pods/exec upgrade
//	attach        pkg/cmd/attach/attach.go          same, pods/attach, resize nudge of size+1
//	port-forward  pkg/cmd/portforward/portforward.go SPDY, or SPDY tunnelled in WebSocket
//	logs          pkg/cmd/logs/logs.go              GET pods/log, streamed
//	get           pkg/cmd/get/get.go                server-side Table, printed like cli-runtime's table printer
//	apply         pkg/cmd/apply/apply.go            client-side: create, or three-way merge
//	delete        pkg/cmd/delete/delete.go          DELETE, then wait until the object is gone
//	version       pkg/cmd/version/version.go
//	conformance   (execlab's own) pkg/conformance against the kubeconfig's cluster
//
// Each command is a file of that name (get's table printer is table.go);
// what they share:
//
//	run.go            Run, the command tree and the global flags
//	session.go        kubeconfig → REST config, namespace and client; command headers
//	resources.go      discovery: a type as typed → API resource, its namespace and path
//	pods.go           the pod a command names, the container it picks, connect URLs
//	remotecommand.go  what exec and attach share: flags, TTY set-up, the stream
//	protocol.go       --protocol: WebSocket or SPDY executors and dialers, with fallback
//	terminal.go       the local terminal: raw mode, size changes
//	errors.go         errors reported as kubectl reports them
//
// Errors are reported as kubectl's cmdutil.CheckErr reports them
// (pkg/cmd/util/helpers.go), and a remote command's exit code becomes
// mini-kubectl's. Run is the whole program as a function, so tests can drive
// it in-process.
package minikubectl
