// Command imagebin is the programs of the fake runtime's images that
// neither busybox nor the host provides (pkg/fakecri/imagebin): agnhost,
// nginx, httpd and pause in one binary. fake-cri runs it for the files of
// its catalogue's images, naming the program in EXECLAB_IMAGE_PROGRAM; run
// by hand, the name it is called by picks the program.
package main

import (
	"os"

	"github.com/execlab/execlab/pkg/fakecri/imagebin"
)

func main() {
	os.Exit(imagebin.Main(os.Args))
}
