package demostack

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/execlab/execlab/pkg/execlabtest"
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
	sessions := 0
	for _, n := range s.Nodes {
		if !n.Kubelet.Running() {
			continue
		}
		open, err := openSessions(n.Kubelet.PID(), portOf(n.Kubelet.URL), portOf(s.APIServer.URL), portOf(s.TracingReceiver()))
		if err != nil {
			return fmt.Errorf("sessions of %s: %w", n.Kubelet.Name, err)
		}
		sessions += open
	}
	fmt.Fprintf(cfg.Stdout, "\nstreaming sessions open (exec, attach, port-forward): %d\n", sessions)
	return nil
}

func state(c *execlabtest.Component) string {
	if c.Running() {
		return "running"
	}
	return "exited"
}

func portOf(rawURL string) int {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(u.Port())
	return p
}
