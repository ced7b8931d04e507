// Package demostack is the stack a person keeps running in the background
// to learn, demo or teach with: `make demo` starts it and `make down` stops
// it, through cmd/execlab. It is pkg/execlabtest's stack of processes,
// detached from the terminal, on fixed ports (6443 and 10250 unless
// EXECLAB_APISERVER_PORT and EXECLAB_KUBELET_PORT say otherwise), with the
// demo pod of scripts/demo-pod.yaml; pkg/execlabtest knows how the
// components are wired, this package only what a person asks of them.
//
//	cli.go        Main: cmd/execlab's commands and flags
//	demostack.go  Up, Down, Reset: start (or restore), stop, and back to the demo pod alone
//	status.go     Status: the components, the pods and the sessions open
//	env.go        Env, PrintEnv: the stack's environment for docs and labs ($APISERVER, $TOKEN…)
//	lab.go        Labs, RunLab: docs/labs, each run against the stack (pkg/labs)
//	containerd.go the private containerd of scripts/containerd.sh, for --runtime containerd
package demostack
