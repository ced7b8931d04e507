// Command fake-cri-shim runs one fake-cri container's main process so that
// it outlives fake-cri, as containerd-shim-runc-v2 does for containerd
// (pkg/fakecri/shim). fake-cri starts it; people do not.
//
//	fake-cri-shim start|serve DIR
package main

import (
	"os"

	"github.com/execlab/execlab/pkg/fakecri/shim"
)

func main() {
	os.Exit(shim.Main(os.Args))
}
