// Package imagebin holds the programs of the fake runtime's images that
// neither busybox nor the host provides, written in Go: agnhost's
// subcommands that Kubernetes' end-to-end tests run, stand-ins for nginx and
// Apache httpd that serve their images' default pages, and the pause binary
// (package pause, which cmd/pause is too). cmd/imagebin is one binary of
// them all, as busybox is of its applets; fake-cri runs it for the files
// that pkg/fakecri/catalog maps to it.
//
// The runtime names the program in the environment variable ProgramEnv
// (imagebin removes it before the program starts, so that nothing the
// program runs inherits it) and passes the container's argv unchanged:
// /agnhost-2 entrypoint-tester prints [/agnhost-2 entrypoint-tester] as
// upstream's does. A name may carry a setting of its image after a colon:
// "nginx:12003" is nginx configured to listen on 12003.
//
// Containers on the fake share the host's network, so the servers listen on
// the pod's address there, 127.0.0.1, where upstream's listen on every
// address; and they answer the pod's HOSTNAME (which the runtime sets) as
// their host name, where upstream's read the pod's UTS namespace.
//
//	imagebin.go         Main, the program table, what the programs share
//	agnhost.go          agnhost and its subcommands pause, entrypoint-tester,
//	                    logs-generator, port-forward-tester (test/images/agnhost)
//	agnhost_servers.go  agnhost's servers: netexec, porter, serve-hostname, test-webserver
//	webserver.go        nginx (with its image's /docker-entrypoint.sh) and Apache httpd
//	                    (with httpd-foreground): their default pages and log formats
package imagebin

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/execlab/execlab/pkg/fakecri/imagebin/pause"
)

// ProgramEnv is the environment variable that names the program to run.
const ProgramEnv = "EXECLAB_IMAGE_PROGRAM"

// listenHost is where the servers listen: the pod's address on the fake.
const listenHost = "127.0.0.1"

// programs maps a program's name to its main, which gets the program's
// setting ("" when none) and argv, and returns the exit code.
var programs = map[string]func(setting string, argv []string) int{
	"pause":            func(_ string, argv []string) int { return pause.Main(argv) },
	"agnhost":          func(_ string, argv []string) int { return agnhost(argv) },
	"nginx":            nginx,
	"nginx-entrypoint": nginxEntrypoint,
	"httpd":            httpd,
	"httpd-foreground": httpdForeground,
}

// Has reports whether name, with or without a setting, is a program here.
func Has(name string) bool {
	base, _, _ := strings.Cut(name, ":")
	_, ok := programs[base]
	return ok
}

// Main runs the program that ProgramEnv names, or else the one argv[0]
// names, and returns its exit code.
func Main(argv []string) int {
	name := os.Getenv(ProgramEnv)
	os.Unsetenv(ProgramEnv)
	if name == "" && len(argv) > 0 {
		name = filepath.Base(argv[0])
	}
	base, setting, _ := strings.Cut(name, ":")
	run, ok := programs[base]
	if !ok {
		fmt.Fprintf(os.Stderr, "imagebin: no program %q\n", name)
		return 127
	}
	return run(setting, argv)
}

// hostname is the pod's host name: the HOSTNAME the runtime sets, as a
// container sees its pod's name in its own UTS namespace.
func hostname() string {
	if h := os.Getenv("HOSTNAME"); h != "" {
		return h
	}
	h, _ := os.Hostname()
	return h
}
