// Command execlab-bench-payload is what the benchmark runs in the pod to
// write or check its payload (see package payload).
package main

import (
	"os"

	"github.com/execlab/execlab/bench/payload"
)

func main() { os.Exit(payload.Main(os.Args[1:])) }
