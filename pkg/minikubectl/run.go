package minikubectl

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/klog/v2"
)

// IOStreams are the standard streams of one run, as kubectl's
// genericiooptions.IOStreams.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// Run runs mini-kubectl with args (without the program name) and returns the
// exit code: the remote command's own for exec, 1 for any other error.
// Cancelling ctx stops the command, as Ctrl-C stops kubectl.
func Run(ctx context.Context, args []string, streams IOStreams) int {
	root := NewRootCommand(streams)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil && ctx.Err() != nil {
		// Interrupted: kubectl's interrupt handler restores the terminal and
		// exits 1 without a message (kubectl/pkg/util/interrupt). port-forward
		// returns nil instead, as kubectl's does on Ctrl-C.
		return 1
	}
	return reportError(err, streams.ErrOut)
}

// NewRootCommand builds the mini-kubectl command tree writing to streams.
// Its RunE functions return errors instead of exiting; Run reports them.
func NewRootCommand(streams IOStreams) *cobra.Command {
	if streams.In == nil {
		streams.In = strings.NewReader("")
	}
	if streams.Out == nil {
		streams.Out = io.Discard
	}
	if streams.ErrOut == nil {
		streams.ErrOut = io.Discard
	}
	g := &globalFlags{streams: streams}
	root := &cobra.Command{
		Use:           "mini-kubectl",
		Short:         "A small kubectl on client-go, to read how kubectl talks to the API server",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	// Bad flags read as kubectl's (cmdutil.UsageErrorf).
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageError(cmd, "%v", err)
	})
	g.addFlags(root.PersistentFlags())

	root.AddCommand(
		newExecCommand(g),
		newAttachCommand(g),
		newPortForwardCommand(g),
		newLogsCommand(g),
		newGetCommand(g),
		newApplyCommand(g),
		newDeleteCommand(g),
		newVersionCommand(g),
		newConformanceCommand(g),
	)
	return root
}

// globalFlags are the flags every command takes, as kubectl's
// genericclioptions.ConfigFlags plus -v and --protocol.
type globalFlags struct {
	streams    IOStreams
	kubeconfig string
	context    string
	namespace  string
	protocol   protocol
}

func (g *globalFlags) addFlags(fs *pflag.FlagSet) {
	fs.StringVar(&g.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file to use for CLI requests.")
	fs.StringVar(&g.context, "context", "", "The name of the kubeconfig context to use")
	fs.StringVarP(&g.namespace, "namespace", "n", "", "If present, the namespace scope for this CLI request")
	g.protocol = protocolAuto
	fs.Var(&g.protocol, "protocol", "Streaming protocol for exec, attach and port-forward: auto (WebSocket, falling back to SPDY, as kubectl), websocket or spdy")

	// klog's -v, as kubectl registers it: -v=4 shows client-go's
	// "RemoteCommand fallback" line.
	klogFlags := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(klogFlags)
	v := pflag.PFlagFromGoFlag(klogFlags.Lookup("v"))
	v.Shorthand = "v"
	fs.AddFlag(v)
}

// usageError mirrors kubectl's cmdutil.UsageErrorf.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	return fmt.Errorf("%s\nSee '%s -h' for help and examples", fmt.Sprintf(format, args...), cmd.CommandPath())
}
