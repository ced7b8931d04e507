package minikubectl

import (
	"context"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/remotecommand"
)

// streamOptions are what exec and attach share (StreamOptions in
// kubectl/pkg/cmd/exec/exec.go).
type streamOptions struct {
	container  string
	stdin, tty bool
	quiet      bool

	in          io.Reader
	out, errOut io.Writer

	// traceFlag is --trace: "", "timeline" or "headers"; trace is the
	// command's span when it is given.
	traceFlag string
	trace     *sessionTrace
}

func (o *streamOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	cmd.Flags().BoolVarP(&o.stdin, "stdin", "i", false, "Pass stdin to the container")
	cmd.Flags().BoolVarP(&o.tty, "tty", "t", false, "Stdin is a TTY")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Only print output from the remote session")
	cmd.Flags().StringVar(&o.traceFlag, "trace", "", "After the command, print the session's timeline across every hop (client, apiserver, kubelet, runtime, streaming server) from the apiserver's live view; --trace=headers adds the request each hop received and the upgrade answer it passed back (not in kubectl)")
	cmd.Flags().Lookup("trace").NoOptDefVal = "timeline"
}

// setupTTY mirrors StreamOptions.SetupTTY: without -i no stdin stream is
// opened and -t is ignored; with -i -t the input must be a terminal, which
// then goes raw, else kubectl warns and carries on without a TTY.
func (o *streamOptions) setupTTY() terminal {
	t := terminal{out: o.out}
	if !o.stdin {
		o.in = nil
		o.tty = false
		return t
	}
	t.in = o.in
	if !o.tty {
		return t
	}
	if _, ok := ttyOf(o.in); !ok {
		o.tty = false
		if !o.quiet && o.errOut != nil {
			fmt.Fprintln(o.errOut, "Unable to use a TTY - input is not a terminal or the right kind of file")
		}
		return t
	}
	t.raw = true
	return t
}

// stream upgrades u and runs the session on the streams set up, the
// terminal in raw mode while it lasts: createExecutor, then
// StreamWithContext, as exec's and attach's Run do.
func (o *streamOptions) stream(ctx context.Context, s *session, p protocol, u *url.URL, t terminal, sizes remotecommand.TerminalSizeQueue) error {
	executor, err := newExecutor(s.config, u, p, func(err error) bool {
		if !shouldFallback(err) {
			return false
		}
		o.trace.fallback(err)
		return true
	})
	if err != nil {
		return err
	}
	return t.safe(func() error {
		return executor.StreamWithContext(ctx, remotecommand.StreamOptions{
			Stdin:             o.in,
			Stdout:            o.out,
			Stderr:            o.errOut,
			Tty:               t.raw,
			TerminalSizeQueue: sizes,
		})
	})
}
