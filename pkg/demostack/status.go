package demostack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/tracing"
)

// Status prints what runs — each component with its PID and address, an
// external runtime, the pods, and the streaming sessions open.
func Status(ctx context.Context, cfg Config) error {
	s, err := execlabtest.Attach(cfg.StateDir)
	if err != nil {
		fmt.Fprintf(cfg.Stdout, "execlab is not running (no stack in %s); `make demo` starts it.\n", cfg.StateDir)
		return nil
	}
	w := tabwriter.NewWriter(cfg.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "COMPONENT\tPID\tADDRESS\tSTATE")
	fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", s.APIServer.Name, s.APIServer.PID(), s.APIServer.URL, state(s.APIServer))
	for _, n := range s.Nodes {
		if n.Runtime != nil {
			fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", n.Runtime.Name, n.Runtime.PID(), n.CRIEndpoint, state(n.Runtime))
		} else {
			fmt.Fprintf(w, "runtime\t-\t%s\texternal\n", n.CRIEndpoint)
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\n", n.Kubelet.Name, n.Kubelet.PID(), n.Kubelet.URL, state(n.Kubelet))
	}
	w.Flush()
	if !s.APIServer.Running() {
		return nil
	}
	pods, err := s.Client().CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("list pods: %w", err)
	}
	fmt.Fprintln(cfg.Stdout)
	fmt.Fprintln(w, "NAMESPACE\tPOD\tPHASE\tNODE")
	for _, p := range pods.Items {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", p.Namespace, p.Name, p.Status.Phase, p.Spec.NodeName)
	}
	w.Flush()
	return writeSessions(ctx, cfg.Stdout, s)
}

// writeSessions lists the sessions running through the apiserver, as its
// live view has them (/ui/api/sessions): exec, attach, port-forward, logs.
func writeSessions(ctx context.Context, out io.Writer, s *execlabtest.Stack) error {
	body, err := s.Client().CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	var all []tracing.Session
	if err := json.Unmarshal(body, &all); err != nil {
		return fmt.Errorf("sessions: %w", err)
	}
	var running []tracing.Session
	for _, sess := range all {
		if sess.Running {
			running = append(running, sess)
		}
	}
	fmt.Fprintf(out, "\nsessions open: %d\n", len(running))
	if len(running) == 0 {
		return nil
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tPOD\tCOMMAND\tFOR\tBYTES IN/OUT\tTRACE")
	for _, sess := range running {
		fmt.Fprintf(w, "%s\t%s/%s\t%s\t%s\t%d/%d\t%s\n", sess.Kind, sess.Namespace, sess.Pod, sess.Command,
			sess.Duration.Round(time.Second), sess.BytesIn, sess.BytesOut, sess.TraceID)
	}
	return w.Flush()
}

func state(c *execlabtest.Component) string {
	if c.Running() {
		return "running"
	}
	return "exited"
}
