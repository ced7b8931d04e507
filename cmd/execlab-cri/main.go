// Command execlab-cri is the small CRI client that scripts/containerd.sh uses
// where crictl would be (pkg/criclient):
//
//	execlab-cri [-runtime-endpoint unix:///path/containerd.sock] [-timeout 60s] COMMAND
//
//	version  print the runtime's name and version and the CRI version
//	wait     retry Version and Status until the runtime reports RuntimeReady
//	ls       list pod sandboxes and containers
//	reset    stop and remove every pod sandbox and container
//	exec [-stdin] [-tty] CONTAINER COMMAND...
//	         print the streaming URL of a CRI Exec (CONTAINER: ID, ID prefix or name)
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

const usage = `usage: execlab-cri [-runtime-endpoint unix:///path] [-timeout 60s] version|wait|ls|reset|exec [-stdin] [-tty] CONTAINER COMMAND...`

var commands = map[string]criclient.Command{
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
	name := fs.Arg(0)
	cmd, ok := commands[name]
	switch {
	case name == "exec":
		cmd, ok = criclient.ExecCommand(fs.Args()[1:], stderr)
	case !ok && name != "":
		fmt.Fprintf(stderr, "execlab-cri: unknown command %q\n", name)
	case fs.NArg() != 1:
		ok = false
	}
	if !ok {
		fs.Usage()
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
		fmt.Fprintf(stderr, "execlab-cri %s: %s: %v\n", name, target, err)
		return 1
	}
	return 0
}
