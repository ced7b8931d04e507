package minikubectl

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

func newVersionCommand(g *globalFlags) *cobra.Command {
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server version information",
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(g.streams.Out, "Client Version: %s\n", clientVersion())
			if clientOnly {
				return nil
			}
			s, err := g.newSession(cmd)
			if err != nil {
				return err
			}
			// GET /version, as kubectl (kubectl/pkg/cmd/version/version.go).
			info, err := s.client.Discovery().ServerVersion()
			if err != nil {
				return err
			}
			fmt.Fprintf(g.streams.Out, "Server Version: %s\n", info.GitVersion)
			return nil
		},
	}
	cmd.Flags().BoolVar(&clientOnly, "client", false, "If true, shows client version only (no server required).")
	return cmd
}

// clientVersion names mini-kubectl's build and the client-go it is built on,
// which decides how it speaks to the server.
func clientVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "mini-kubectl (unknown build)"
	}
	clientGo := "unknown"
	for _, dep := range info.Deps {
		if dep.Path == "k8s.io/client-go" {
			clientGo = dep.Version
		}
	}
	return fmt.Sprintf("mini-kubectl %s (client-go %s)", info.Main.Version, clientGo)
}
