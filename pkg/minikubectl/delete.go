package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

type deleteOptions struct {
	gracePeriod int64
	force       bool
	wait        bool
	timeout     time.Duration
}

func newDeleteCommand(g *globalFlags) *cobra.Command {
	o := &deleteOptions{}
	cmd := &cobra.Command{
		Use:   "delete (TYPE NAME... | TYPE/NAME...)",
		Short: "Delete resources by resource and names",
		Example: `  mini-kubectl delete pod demo
  mini-kubectl delete pod/demo --grace-period=5 --wait=false`,
		RunE: func(cmd *cobra.Command, args []string) error {
			targets, err := deleteTargets(args)
			if err != nil {
				return err
			}
			if o.gracePeriod == 0 && !o.force {
				// kubectl turns 0 into 1 so that nobody skips the kubelet's
				// confirmation by accident; --force keeps the 0.
				o.gracePeriod = 1
			}
			if o.force && o.gracePeriod == 0 {
				fmt.Fprintln(g.streams.ErrOut, "Warning: Immediate deletion does not wait for confirmation that the running resource has been terminated. The resource may continue to run on the cluster indefinitely.")
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			return o.run(cmd.Context(), s, g.streams, targets)
		},
	}
	cmd.Flags().Int64Var(&o.gracePeriod, "grace-period", -1, "Period of time in seconds given to the resource to terminate gracefully. Ignored if negative. Set to 1 for immediate shutdown. Can only be set to 0 when --force is true (force deletion).")
	cmd.Flags().BoolVar(&o.force, "force", false, "If true, immediately remove resources from API and bypass graceful deletion.")
	cmd.Flags().BoolVar(&o.wait, "wait", true, "If true, wait for resources to be gone before returning. This waits for finalizers.")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "The length of time to wait before giving up on a delete, zero means a week, as kubectl")
	return cmd
}

// deleteTargets reads TYPE NAME... or TYPE/NAME... into (type, name) pairs.
func deleteTargets(args []string) ([][2]string, error) {
	if len(args) == 0 {
		return nil, errors.New("You must provide one or more resources by argument or filename.")
	}
	var targets [][2]string
	if strings.Contains(args[0], "/") {
		for _, arg := range args {
			typ, name, found := strings.Cut(arg, "/")
			if !found || typ == "" || name == "" {
				return nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' instead of 'kubectl get resource resource/<resource_name>'")
			}
			targets = append(targets, [2]string{typ, name})
		}
		return targets, nil
	}
	if len(args) == 1 {
		return nil, errors.New("resource(s) were provided, but no name was specified")
	}
	for _, name := range args[1:] {
		targets = append(targets, [2]string{args[0], name})
	}
	return targets, nil
}

// run deletes each (type, name) target in turn, stopping at the first
// failure.
func (o *deleteOptions) run(ctx context.Context, s *session, streams IOStreams, targets [][2]string) error {
	r, err := s.resources()
	if err != nil {
		return err
	}
	for _, t := range targets {
		if err := o.delete(ctx, s, r, streams, t[0], t[1]); err != nil {
			return err
		}
	}
	return nil
}

// delete mirrors DeleteOptions.DeleteResult in kubectl/pkg/cmd/delete/delete.go:
// DELETE with background propagation, print, then wait until the object
// (this one, by UID) is gone — for a pod, until the kubelet has stopped its
// containers and the API server has removed it.
func (o *deleteOptions) delete(ctx context.Context, s *session, r *resources, streams IOStreams, typ, name string) error {
	m, ns, err := r.forArgIn(typ, s.namespace)
	if err != nil {
		return err
	}
	policy := metav1.DeletePropagationBackground
	opts := &metav1.DeleteOptions{PropagationPolicy: &policy}
	if o.gracePeriod >= 0 {
		opts.GracePeriodSeconds = &o.gracePeriod
	}
	res := resourceRequest(s.client.CoreV1().RESTClient().Delete(), m, ns, name).Body(opts).Do(ctx)
	if err := res.Error(); err != nil {
		return err
	}
	body, err := res.Raw()
	if err != nil {
		return err
	}
	fmt.Fprintf(streams.Out, "%s %q deleted\n", kindName(m.GroupVersionKind.GroupKind()), name)
	if !o.wait {
		return nil
	}
	// The answer is the object, now with a deletionTimestamp, or a Status
	// when it was removed at once.
	obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, body)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", m.Resource.Resource, name, err)
	}
	deleted, ok := obj.(*unstructured.Unstructured)
	if !ok || deleted.GetKind() == "Status" {
		return nil
	}
	timeout := o.timeout
	if timeout == 0 {
		timeout = 7 * 24 * time.Hour
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return waitForDeletion(ctx, r.dynamic.Resource(m.Resource).Namespace(ns), name, deleted.GetUID())
}

// waitForDeletion returns once the object named name with uid is gone, as
// kubectl's wait --for=delete (kubectl/pkg/cmd/wait/delete.go): read it,
// then watch it from that version until a DELETED event; a watch that ends
// early starts the loop again.
func waitForDeletion(ctx context.Context, client dynamic.ResourceInterface, name string, uid types.UID) error {
	selector := fields.OneTermEqualSelector("metadata.name", name).String()
	for {
		current, err := client.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if current.GetUID() != uid {
			return nil
		}
		w, err := client.Watch(ctx, metav1.ListOptions{FieldSelector: selector, ResourceVersion: current.GetResourceVersion()})
		if err != nil {
			return err
		}
		gone, err := untilDeleted(ctx, w, uid)
		if gone || err != nil {
			return err
		}
	}
}

// untilDeleted reads w until the object with uid is deleted (true), the
// watch ends (false) or ctx ends.
func untilDeleted(ctx context.Context, w watch.Interface, uid types.UID) (bool, error) {
	defer w.Stop()
	for {
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("timed out waiting for the condition: %w", ctx.Err())
		case ev, ok := <-w.ResultChan():
			if !ok {
				return false, nil
			}
			switch ev.Type {
			case watch.Deleted:
				if m, err := meta.Accessor(ev.Object); err != nil || m.GetUID() == uid {
					return true, nil
				}
			case watch.Error:
				err := apierrors.FromObject(ev.Object)
				if apierrors.IsResourceExpired(err) || apierrors.IsGone(err) {
					return false, nil // our version is too old: read again
				}
				return false, err
			}
		}
	}
}
