// Command execlab-cri is the small CRI client that scripts/containerd.sh uses
// where crictl would be (pkg/criclient):
//
//	execlab-cri [-runtime-endpoint unix:///path/containerd.sock] [-timeout 60s] COMMAND
//
//	version  print the runtime's name and version and the CRI version
//	wait     retry Version and Status until the runtime reports RuntimeReady
//	ls       list pod sandboxes and containers
//	reset    stop and remove every pod sandbox and container
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/execlab/execlab/pkg/criclient"
)

const usage = `usage: execlab-cri [-runtime-endpoint unix:///path] [-timeout 60s] version|wait|ls|reset`

var commands = map[string]func(*criclient.Client, context.Context, io.Writer) error{
	"version": (*criclient.Client).Version,
	"wait":    (*criclient.Client).Wait,
	"ls":      (*criclient.Client).List,
	"reset":   (*criclient.Client).Reset,
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code, 2 for bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("execlab-cri", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, usage) }
	endpoint := fs.String("runtime-endpoint", "unix:///run/containerd/containerd.sock", "CRI socket, unix:///path or /path")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cmd, ok := commands[fs.Arg(0)]
	if !ok {
		fmt.Fprintf(stderr, "execlab-cri: unknown command %q\n%s\n", fs.Arg(0), usage)
		return 2
	}

	target := criclient.Target(*endpoint)
	c, err := criclient.Dial(target)
	if err != nil {
		fmt.Fprintf(stderr, "execlab-cri: %s: %v\n", target, err)
		return 1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := cmd(c, ctx, stdout); err != nil {
		fmt.Fprintf(stderr, "execlab-cri %s: %s: %v\n", fs.Arg(0), target, err)
		return 1
	}
	return 0
}
