package minikubectl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/execlab/execlab/pkg/conformance"
)

// errSuiteFailed makes the run exit 1 after the table said why.
var errSuiteFailed = errors.New("conformance: some cases failed")

// newConformanceCommand runs pkg/conformance against the kubeconfig's
// cluster; kubectl has no such command: this is execlab's own.
func newConformanceCommand(g *globalFlags) *cobra.Command {
	var (
		image, protocols, junit string
		kubectl                 string
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
			opts := conformance.Options{
				Config: s.config, Namespace: s.namespace, Image: image, Protocols: ps, Cases: cases,
				Execs: execs, BinaryBytes: binaryMiB << 20, HangAfter: hangAfter, Progress: g.streams.ErrOut,
			}
			if kubectl != "" {
				k, err := g.kubectlClient(cmd.Context(), kubectl)
				if err != nil {
					return err
				}
				defer k.Close()
				opts.Client = k
			}
			report, err := conformance.Run(cmd.Context(), opts)
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
	f.StringVar(&kubectl, "kubectl", "", "run the sessions with this kubectl binary instead of the suite's own client (client-go); cases it cannot run are n/a")
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

// kubectlClient is the kubectl at path as the suite's client, on the
// cluster this command reaches: the kubeconfig as loaded (--kubeconfig,
// $KUBECONFIG, --context), minified to its current context, in a file the
// client's Close removes.
func (g *globalFlags) kubectlClient(ctx context.Context, path string) (*kubectlClient, error) {
	raw, err := g.clientConfig().RawConfig()
	if err != nil {
		return nil, err
	}
	if g.context != "" {
		raw.CurrentContext = g.context
	}
	if err := clientcmdapi.MinifyConfig(&raw); err != nil {
		return nil, fmt.Errorf("kubeconfig for %s: %w", path, err)
	}
	dir, err := os.MkdirTemp("", "execlab-conformance-")
	if err != nil {
		return nil, err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(raw, kubeconfig); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	k, err := conformance.NewKubectl(ctx, path, kubeconfig)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &kubectlClient{Kubectl: k, dir: dir}, nil
}

// kubectlClient is a conformance.Kubectl with its kubeconfig's directory.
type kubectlClient struct {
	*conformance.Kubectl
	dir string
}

func (k *kubectlClient) Close() error {
	return errors.Join(k.Kubectl.Close(), os.RemoveAll(k.dir))
}
