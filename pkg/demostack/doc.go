// Package demostack is the stack a person keeps running in the background
// to learn, demo or teach with: `make demo` starts it and `make down` stops
// it, through cmd/execlab. It is pkg/execlabtest's stack of processes,
// detached from the terminal, on fixed ports (6443 and 10250 unless
// EXECLAB_APISERVER_PORT and EXECLAB_KUBELET_PORT say otherwise), with the
// demo pod of scripts/demo-pod.yaml; pkg/execlabtest knows how the
// components are wired, this package only what a person asks of them.
//
//	demostack.go  Up, Down, Reset: start, stop, and back to the demo pod alone
//	status.go     Status: the components, the pods and the sessions open
//	containerd.go the private containerd of scripts/containerd.sh, for --runtime containerd
package demostack
