package criclient

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// Command is one of execlab-cri's commands, its arguments parsed.
type Command func(*Client, context.Context, io.Writer) error

// ExecCommand parses exec's flags and arguments,
// [-stdin] [-tty] CONTAINER COMMAND..., and says whether they are right;
// what is wrong goes to output.
func ExecCommand(args []string, output io.Writer) (Command, bool) {
	fs := flag.NewFlagSet("execlab-cri exec", flag.ContinueOnError)
	fs.SetOutput(output)
	var opts ExecOptions
	fs.BoolVar(&opts.Stdin, "stdin", false, "the session has stdin")
	fs.BoolVar(&opts.TTY, "tty", false, "the session has a terminal (and no stderr)")
	if fs.Parse(args) != nil || fs.NArg() < 2 {
		return nil, false
	}
	return func(c *Client, ctx context.Context, w io.Writer) error {
		return c.Exec(ctx, w, fs.Arg(0), fs.Args()[1:], opts)
	}, true
}

// ExecOptions are the streams an exec session asks for: stdout always,
// stderr unless TTY (a terminal has one output).
type ExecOptions struct {
	Stdin, TTY bool
}

// Exec asks the runtime for an exec session of cmd in container and prints
// the URL it answers, as the kubelet's GetExec receives it
// (pkg/kubelet/kuberuntime/kuberuntime_container.go); crictl exec then
// streams from that URL, this only prints it. Nothing runs until a client
// upgrades the URL: once, within a minute. container is an ID, a unique
// prefix of one, or the name of a running container.
func (c *Client) Exec(ctx context.Context, w io.Writer, container string, cmd []string, opts ExecOptions) error {
	id, err := c.containerID(ctx, container)
	if err != nil {
		return err
	}
	resp, err := c.rs.Exec(ctx, &runtimeapi.ExecRequest{
		ContainerId: id,
		Cmd:         cmd,
		Stdin:       opts.Stdin,
		Tty:         opts.TTY,
		Stdout:      true,
		Stderr:      !opts.TTY,
	})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, resp.Url)
	return nil
}

// containerID is the ID of the one container that name is the ID, an ID
// prefix or the name of (a running one, for a name).
func (c *Client) containerID(ctx context.Context, name string) (string, error) {
	ctrs, err := c.rs.ListContainers(ctx, &runtimeapi.ListContainersRequest{})
	if err != nil {
		return "", err
	}
	var found []string
	for _, ctr := range ctrs.Containers {
		running := ctr.State == runtimeapi.ContainerState_CONTAINER_RUNNING
		if strings.HasPrefix(ctr.Id, name) || (running && ctr.GetMetadata().GetName() == name) {
			found = append(found, ctr.Id)
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("no container %q", name)
	case 1:
		return found[0], nil
	}
	return "", fmt.Errorf("%q names %d containers: give more of the ID", name, len(found))
}
