// Package execlabtest starts an execlab stack — one apiserver and, per
// node, a kubelet and its CRI runtime — for Go tests, ours and other
// projects', and for people: the one place that knows how the components
// are wired (the cluster PKI, the token and policy files, the kubeconfigs,
// the ports, the readiness checks).
//
// The components run in this process (the default), each through its
// package, or as processes of the real binaries (Options.BinDir), for the
// end-to-end suite and for `make demo` (pkg/demostack), which detaches them
// from the terminal (Options.Detach) and finds them again with Attach.
// Both ways derive from one description of each component (components.go):
// its package's options for the one, its binary's flags for the other.
//
//	s := execlabtest.New(t, execlabtest.Options{})   // stopped and checked for leaks when t ends
//	pod, err := s.CreatePod(ctx, pod)                 // Running and Ready
//	config := s.RESTConfig()                          // or s.Kubeconfig, s.Client()
//
// In this process nothing is global: each stack listens on free loopback
// ports, keeps its state in its own directory, and gives each component a
// logger of its own, so that many run in parallel in one `go test`. Every
// goroutine a component starts carries pprof labels naming its stack and
// itself, which is how New finds what a stopped stack left running.
//
// In-process, it does what kube-apiserver's test server does
// (cmd/kube-apiserver/app/testing/testserver.go, StartTestServer); as
// processes, what hack/local-up-cluster.sh does. The files:
//
//	options.go     Options, User: what to start
//	stack.go       Start, New, Stop, Restart: the start-up order, the state directory's layout
//	components.go  the apiserver, fake-cri and the kubelet, each described once: serve, args
//	component.go   Component: one running part, its PID, Kill, Stop, log, readiness
//	inprocess.go   running a component in a goroutine, under its pprof labels
//	process.go     running one as a process: PID file, SIGTERM then SIGKILL, detached or not
//	leftovers.go   what Stop kills last: fake-cri's containers and shims, a killed fake-cri's execs, any process marked as the stack's
//	security.go    the PKI, token and policy files; WriteKubeconfig
//	pods.go        CreatePod, WaitPod, WaitPodGone, DeletePods
//	goroutines.go  Goroutines, GoroutineDump: by label in this process, by pprof over HTTP;
//	               HTTPClient, which reaches the processes' pprof endpoints
//	manifest.go    stack.json, a stack of processes described for Attach
package execlabtest
