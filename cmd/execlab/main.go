// Command execlab keeps the demo stack running in the background and runs
// the labs against it (pkg/demostack), for `make demo`, `make down`,
// `make status`, `make reset` and `make lab N`:
//
//	execlab up [--runtime fake|containerd] [--streaming-mode translate|passthrough|per-node]
//	           [--redirect-container-streaming] [--streaming-proxy-redirects]
//	execlab down | status | reset
//	execlab env        export lines for a shell: eval "$(bin/execlab env)"
//	execlab lab [N]    run lab N of docs/labs and check its output; list them
//
// The binaries are beside it; the state in $EXECLAB_STATE (.execlab/), the
// ports $EXECLAB_APISERVER_PORT (6443) and $EXECLAB_KUBELET_PORT (10250),
// an OTLP/HTTP collector for every span in $EXECLAB_TRACING_ENDPOINT.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/execlab/execlab/pkg/demostack"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	exe, err := os.Executable()
	if err == nil {
		// bin/execlab: the repository is the directory above.
		err = demostack.Main(ctx, filepath.Dir(filepath.Dir(exe)), os.Args[1:], os.Stdout, os.Stderr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "execlab:", err)
		os.Exit(1)
	}
}
