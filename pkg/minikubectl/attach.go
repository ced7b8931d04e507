package minikubectl

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/remotecommand"
)

type attachOptions struct {
	streamOptions
	pod string
}

func newAttachCommand(g *globalFlags) *cobra.Command {
	o := &attachOptions{}
	cmd := &cobra.Command{
		Use:   "attach POD [-c CONTAINER] [-i] [-t]",
		Short: "Attach to a running container",
		RunE: func(cmd *cobra.Command, args []string) error {
			switch len(args) {
			case 0:
				return errors.New("at least 1 argument is required for attach")
			case 1:
				o.pod = args[0]
			default:
				return fmt.Errorf("expected POD, or pod/NAME (at most 1 argument) saw %d: %v", len(args), args)
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			o.in, o.out, o.errOut = g.streams.In, g.streams.Out, g.streams.ErrOut
			return o.run(cmd.Context(), s, g.protocol, cmd.CommandPath())
		},
	}
	o.addFlags(cmd)
	return cmd
}

// run mirrors AttachOptions.Run in kubectl/pkg/cmd/attach/attach.go.
func (o *attachOptions) run(ctx context.Context, s *session, p protocol, commandName string) error {
	pod, err := s.getPod(ctx, o.pod)
	if err != nil {
		return err
	}
	if completed(pod) {
		return fmt.Errorf("cannot attach a container in a completed pod; current phase is %s", pod.Status.Phase)
	}
	container, err := findOrDefaultContainer(pod, o.container, o.quiet, o.errOut)
	if err != nil {
		return fmt.Errorf("cannot attach to the container: %v", err)
	}
	// Attach joins the container's own stdio: its terminal exists or not
	// from the pod spec, whatever -t says.
	if o.tty && !container.TTY {
		o.tty = false
		if !o.quiet {
			fmt.Fprintf(o.errOut, "error: Unable to use a TTY - container %s did not allocate one\n", container.Name)
		}
	} else if !o.tty && container.TTY {
		o.tty = true
	}

	t := o.setupTTY()
	var sizes remotecommand.TerminalSizeQueue
	stderr := true
	if t.raw {
		if size := t.size(); size != nil {
			// Resize to size+1 and back, so a program already running on the
			// container's terminal sees a change and redraws.
			plusOne := *size
			plusOne.Width++
			plusOne.Height++
			if q := t.monitorSize(&plusOne, size); q != nil {
				defer q.Stop()
				sizes = q
			}
		}
		stderr = false
	}
	if !o.quiet {
		fmt.Fprintln(o.errOut, "If you don't see a command prompt, try pressing enter.")
	}

	u := podURL(s.client.CoreV1().RESTClient(), pod, "attach", &corev1.PodAttachOptions{
		Container: container.Name,
		Stdin:     o.stdin,
		Stdout:    o.out != nil,
		Stderr:    stderr,
		TTY:       t.raw,
	})
	if !stderr {
		o.errOut = nil
	}
	if err := o.stream(ctx, s, p, u, t, sizes); err != nil {
		return err
	}
	if !o.quiet && o.stdin && t.raw && pod.Spec.RestartPolicy == corev1.RestartPolicyAlways {
		fmt.Fprintf(o.out, "Session ended, resume using '%s %s -c %s -i -t' command when the pod is running\n", commandName, pod.Name, container.Name)
	}
	return nil
}
