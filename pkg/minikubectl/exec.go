package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
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
}

func (o *streamOptions) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "Container name. If omitted, use the kubectl.kubernetes.io/default-container annotation for selecting the container to be attached or the first container in the pod will be chosen")
	cmd.Flags().BoolVarP(&o.stdin, "stdin", "i", false, "Pass stdin to the container")
	cmd.Flags().BoolVarP(&o.tty, "tty", "t", false, "Stdin is a TTY")
	cmd.Flags().BoolVarP(&o.quiet, "quiet", "q", false, "Only print output from the remote session")
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
			return o.run(cmd.Context(), s, g.protocol)
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
	name, err := podName(o.pod)
	if err != nil {
		return err
	}
	pod, err := s.client.CoreV1().Pods(s.namespace).Get(ctx, name, metav1.GetOptions{})
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

	u := execURL(s.client.CoreV1().RESTClient(), pod, &corev1.PodExecOptions{
		Container: container,
		Command:   o.command,
		Stdin:     o.stdin,
		Stdout:    o.out != nil,
		Stderr:    o.errOut != nil,
		TTY:       t.raw,
	})
	executor, err := newExecutor(s.config, u, p)
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

// execURL is the pods/exec subresource URL with the options encoded by the
// scheme's parameter codec: command=…&command=…&container=…&stdin=true…,
// false values left out.
func execURL(c rest.Interface, pod *corev1.Pod, opts *corev1.PodExecOptions) *url.URL {
	return c.Post().
		Namespace(pod.Namespace).
		Resource("pods").
		Name(pod.Name).
		SubResource("exec").
		VersionedParams(opts, scheme.ParameterCodec).
		URL()
}
