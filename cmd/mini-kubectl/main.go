// Command mini-kubectl is a small kubectl built on client-go: exec, attach,
// port-forward, logs, get, apply, delete and version, each doing what
// kubectl does. See package github.com/execlab/execlab/pkg/minikubectl.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/execlab/execlab/pkg/minikubectl"
)

func main() {
	// SIGINT and SIGTERM end the command: the terminal is restored and the
	// session closed, as kubectl's interrupt handler does.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := minikubectl.Run(ctx, os.Args[1:], minikubectl.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr})
	stop()
	os.Exit(code)
}
