// Command pause is what a pod sandbox's "pause" container runs: it holds the
// pod's namespaces open, reaps the zombies that end up parented to it, and
// exits 0 on SIGINT or SIGTERM. It mirrors upstream's
// kubernetes/build/pause/linux/pause.c, in Go so that the image can be built
// offline with the Go toolchain alone (scripts/containerd.sh builds it with
// CGO_ENABLED=0, so it is static and the image needs no libc). The program
// is pkg/fakecri/imagebin/pause, which the fake runtime's pause image runs
// too.
package main

import (
	"os"

	"github.com/execlab/execlab/pkg/fakecri/imagebin/pause"
)

func main() {
	os.Exit(pause.Main(os.Args))
}
