package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/execlab/execlab/pkg/tracing"
)

type execOptions struct {
	streamOptions
	pod     string
	command []string
}

func newExecCommand(g *globalFlags) *cobra.Command {
	o := &execOptions{}
	cmd := &cobra.Command{
		Use:   "exec POD [-c CONTAINER] [-i] [-t] -- COMMAND [args...]",
		Short: "Execute a command in a container",
		Example: `  mini-kubectl exec demo -- date
  mini-kubectl exec demo -c main -i -t -- sh`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.complete(cmd, args); err != nil {
				return err
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			o.in, o.out, o.errOut = g.streams.In, g.streams.Out, g.streams.ErrOut
			return o.runTraced(cmd.Context(), s, g.protocol, g.streams.ErrOut)
		},
	}
	o.addFlags(cmd)
	return cmd
}

// complete splits POD from the command after "--", as ExecOptions.Complete
// and Validate do, with kubectl's messages.
func (o *execOptions) complete(cmd *cobra.Command, args []string) error {
	dash := cmd.ArgsLenAtDash()
	switch {
	case dash > -1:
		if dash > 0 {
			o.pod = args[0]
		}
		o.command = args[dash:]
	case len(args) > 1:
		if !o.quiet {
			path := cmd.CommandPath()
			fmt.Fprintf(cmd.ErrOrStderr(), "%s [POD] [COMMAND] is DEPRECATED and will be removed in a future version. Use %s [POD] -- [COMMAND] instead.\n", path, path)
		}
		o.pod, o.command = args[0], args[1:]
	case len(args) == 1:
		o.pod = args[0]
	}
	if o.pod == "" {
		return errors.New("pod, type/name or --filename must be specified")
	}
	if len(o.command) == 0 {
		return errors.New("you must specify at least one command for the container")
	}
	return nil
}

// run is ExecOptions.Run: GET the pod, refuse a finished one, pick the
// container, set up the terminal, then upgrade pods/exec and stream.
func (o *execOptions) run(ctx context.Context, s *session, p protocol) error {
	pod, err := s.getPod(ctx, o.pod)
	if err != nil {
		return err
	}
	if completed(pod) {
		return fmt.Errorf("cannot exec into a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	container := o.container
	if container == "" {
		c, err := findOrDefaultContainer(pod, "", o.quiet, o.errOut)
		if err != nil {
			return err
		}
		container = c.Name
	}

	t := o.setupTTY()
	var sizes remotecommand.TerminalSizeQueue
	if t.raw {
		if q := t.monitorSize(t.size()); q != nil {
			defer q.Stop()
			sizes = q
		}
		// A terminal has one output: the remote side writes stdout and
		// stderr to it, and the API rejects tty together with stderr.
		o.errOut = nil
	}

	u := podURL(s.client.CoreV1().RESTClient(), pod, "exec", &corev1.PodExecOptions{
		Container: container,
		Command:   o.command,
		Stdin:     o.stdin,
		Stdout:    o.out != nil,
		Stderr:    o.errOut != nil,
		TTY:       t.raw,
	})
	return o.stream(ctx, s, p, u, t, sizes)
}

// runTraced is run within the command's span when --trace is given, and
// prints the session's timeline after it.
func (o *execOptions) runTraced(ctx context.Context, s *session, p protocol, traceOut io.Writer) error {
	switch o.traceFlag {
	case "":
		return o.run(ctx, s, p)
	case "timeline", "headers":
	default:
		return fmt.Errorf("--trace must be timeline or headers, not %q", o.traceFlag)
	}
	ctx, st, err := startTrace(ctx, "exec", tracing.AttrNamespace.String(s.namespace), tracing.AttrPod.String(o.pod),
		tracing.AttrCommand.String(strings.Join(o.command, " ")))
	if err != nil {
		return err
	}
	o.trace = st
	runErr := o.run(ctx, s, p)
	if err := st.end(context.WithoutCancel(ctx), s, runErr, o.traceFlag == "headers", traceOut); err != nil {
		fmt.Fprintf(traceOut, "no timeline: %v\n", err)
	}
	return runErr
}
