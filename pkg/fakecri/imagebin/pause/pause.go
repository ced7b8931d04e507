// Package pause is what a pod sandbox's "pause" container runs: it holds
// the pod's namespaces open, reaps the zombies that end up parented to it,
// and exits 0 on SIGINT or SIGTERM. It mirrors upstream's
// kubernetes/build/pause/linux/pause.c, in Go so that the image can be built
// offline with the Go toolchain alone. cmd/pause is this alone, for
// scripts/containerd.sh's pause image (built with CGO_ENABLED=0, so static:
// the image needs no libc); pkg/fakecri/imagebin runs it as the fake's
// registry.k8s.io/pause.
package pause

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
)

// Main runs pause with argv (os.Args) and returns its exit code.
func Main(argv []string) int {
	for _, arg := range argv[1:] {
		if strings.EqualFold(arg, "-v") {
			fmt.Printf("pause (execlab) %s\n", runtime.Version())
			return 0
		}
	}

	// Two channels: signal.Notify drops a signal when its channel is full,
	// and a burst of SIGCHLD must never crowd out the SIGTERM that follows.
	down := make(chan os.Signal, 1)
	signal.Notify(down, syscall.SIGINT, syscall.SIGTERM)
	child := make(chan os.Signal, 1)
	signal.Notify(child, syscall.SIGCHLD)

	// Printed after the handlers are in place (pause.c prints it before):
	// whoever reads it may signal us at once.
	if os.Getpid() != 1 {
		// Not an error: pause is also used outside infra containers.
		fmt.Fprintln(os.Stderr, "Warning: pause should be the first process")
	}

	sig := waitForDown(down, child)
	fmt.Fprintf(os.Stderr, "Shutting down, got signal: %v\n", sig)
	return 0
}

// waitForDown reaps children on every SIGCHLD and returns the first signal
// received on down.
func waitForDown(down, child <-chan os.Signal) os.Signal {
	for {
		select {
		case sig := <-down:
			return sig
		case <-child:
			reap()
		}
	}
}

// reap collects every child that has exited, like pause.c's sigreap: one
// SIGCHLD may stand for several children, so it loops until none is left.
// It returns how many it collected.
func reap() int {
	n := 0
	for {
		pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return n
		}
		n++
	}
}
