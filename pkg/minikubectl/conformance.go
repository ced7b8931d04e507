package minikubectl

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/execlab/execlab/pkg/conformance"
)

// errSuiteFailed makes the run exit 1 after the table said why.
var errSuiteFailed = errors.New("conformance: some cases failed")

// newConformanceCommand runs pkg/conformance against the kubeconfig's
// cluster; kubectl has no such command: this is execlab's own.
func newConformanceCommand(g *globalFlags) *cobra.Command {
	var (
		image, protocols, junit string
		cases                   []string
		execs                   int
		binaryMiB               int64
		hangAfter               time.Duration
	)
	cmd := &cobra.Command{
		Use:   "conformance",
		Short: "Run the exec path's conformance suite against the cluster: its own pods, a table of case × protocol, JUnit XML",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			ps, err := conformance.ParseProtocols(protocols)
			if err != nil {
				return err
			}
			report, err := conformance.Run(cmd.Context(), conformance.Options{
				Config: s.config, Namespace: s.namespace, Image: image, Protocols: ps, Cases: cases,
				Execs: execs, BinaryBytes: binaryMiB << 20, HangAfter: hangAfter, Progress: g.streams.ErrOut,
			})
			if err != nil {
				return err
			}
			if err := report.WriteTable(g.streams.Out); err != nil {
				return err
			}
			if junit != "" {
				if err := writeJUnit(junit, report); err != nil {
					return err
				}
			}
			if len(report.Failed()) > 0 {
				return errSuiteFailed
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&image, "image", "busybox", "the image of the suite's pods: it needs sh, cat, head, stty, sleep and nc as busybox has them")
	f.StringVar(&protocols, "protocols", "spdy,websocket-v4,websocket-v5", "the columns run, comma-separated")
	f.StringSliceVar(&cases, "case", nil, "run only these cases (repeatable); default all")
	f.StringVar(&junit, "junit", "", "write the results as JUnit XML to this file")
	f.IntVar(&execs, "execs", 1000, "execs in a row of the execs case, per protocol")
	f.Int64Var(&binaryMiB, "binary-mib", 100, "MiB sent each way by the binary case")
	f.DurationVar(&hangAfter, "hang-after", conformance.DefaultHangAfter, "how long a client may take to end a session the server, a fault or its context ended before it is declared hung")
	return cmd
}

func writeJUnit(path string, r *conformance.Report) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := r.WriteJUnit(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
