package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

type logsOptions struct {
	container  string
	follow     bool
	previous   bool
	timestamps bool
	tail       int64
	since      time.Duration
	sinceTime  string
	limitBytes int64
}

func newLogsCommand(g *globalFlags) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs POD [-c CONTAINER]",
		Short: "Print the logs for a container in a pod",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError(cmd, "expected POD or pod/NAME")
			}
			opts, err := o.podLogOptions()
			if err != nil {
				return err
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, g.streams, args[0], opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "Print the logs of this container")
	f.BoolVarP(&o.follow, "follow", "f", false, "Specify if the logs should be streamed.")
	f.BoolVarP(&o.previous, "previous", "p", false, "If true, print the logs for the previous instance of the container in a pod if it exists.")
	f.BoolVar(&o.timestamps, "timestamps", false, "Include timestamps on each line in the log output")
	f.Int64Var(&o.tail, "tail", -1, "Lines of recent log file to display. Defaults to -1, showing all log lines.")
	f.DurationVar(&o.since, "since", 0, "Only return logs newer than a relative duration like 5s, 2m, or 3h. Defaults to all logs. Only one of since-time / since may be used.")
	f.StringVar(&o.sinceTime, "since-time", "", "Only return logs after a specific date (RFC3339). Defaults to all logs. Only one of since-time / since may be used.")
	f.Int64Var(&o.limitBytes, "limit-bytes", 0, "Maximum bytes of logs to return. Defaults to no limit.")
	return cmd
}

// podLogOptions validates the flags and turns them into the query of
// pods/log, as LogsOptions.Complete and Validate do
// (kubectl/pkg/cmd/logs/logs.go).
func (o *logsOptions) podLogOptions() (*corev1.PodLogOptions, error) {
	opts := &corev1.PodLogOptions{
		Container:  o.container,
		Follow:     o.follow,
		Previous:   o.previous,
		Timestamps: o.timestamps,
	}
	if o.sinceTime != "" && o.since != 0 {
		return nil, errors.New("at most one of `sinceTime` or `sinceSeconds` may be specified")
	}
	if o.sinceTime != "" {
		t, err := time.Parse(time.RFC3339, o.sinceTime)
		if err != nil {
			return nil, err
		}
		opts.SinceTime = &metav1.Time{Time: t}
	}
	if o.since != 0 {
		// The API counts whole seconds; round up so nothing asked for is lost.
		secs := int64(math.Ceil(o.since.Seconds()))
		opts.SinceSeconds = &secs
	}
	if o.limitBytes != 0 {
		if o.limitBytes < 0 {
			return nil, errors.New("--limit-bytes must be greater than 0")
		}
		opts.LimitBytes = &o.limitBytes
	}
	if o.tail != -1 {
		if o.tail < -1 {
			return nil, errors.New("--tail must be greater than or equal to -1")
		}
		opts.TailLines = &o.tail
	}
	return opts, nil
}

// run GETs the pod to pick the container as kubectl's LogsForObject does,
// then streams GET pods/NAME/log to stdout until the server ends it (or, with
// -f, until ctx ends).
func (o *logsOptions) run(ctx context.Context, s *session, streams IOStreams, podArg string, opts *corev1.PodLogOptions) error {
	pod, err := s.getPod(ctx, podArg)
	if err != nil {
		return err
	}
	if opts.Container == "" {
		c, err := findOrDefaultContainer(pod, "", false, streams.ErrOut)
		if err != nil {
			return err
		}
		opts.Container = c.Name
	}
	stream, err := s.client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, opts).Stream(ctx)
	if err != nil {
		return err
	}
	defer stream.Close()
	if _, err := io.Copy(streams.Out, stream); err != nil {
		return fmt.Errorf("logs of %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return nil
}
