package registry

import (
	"runtime"
	"runtime/debug"

	"k8s.io/apimachinery/pkg/version"
)

// serverMinor is the Kubernetes minor version this server claims. The
// kubectl on these machines is a dispatcher (itself kubectl v1.32.4) that
// reads the server's /version: for minor 27 to 31 and 33 it runs
// kubectl.1.<minor>, for 32 it runs itself, and for anything else it also
// runs itself but `kubectl version` warns about the skew. So 32 gives
// kubectl 1.32 with no warning; its exec, attach and port-forward try
// WebSocket first, as this server expects of a current kubectl.
const serverMinor = "32"

// versionInfo is what GET /version answers, shaped like a real
// kube-apiserver's: the Kubernetes version, plus this build's commit and
// Go toolchain.
func versionInfo() version.Info {
	info := version.Info{
		Major:        "1",
		Minor:        serverMinor,
		GitVersion:   "v1.32.4+execlab",
		GitTreeState: "clean",
		BuildDate:    "1970-01-01T00:00:00Z",
		GoVersion:    runtime.Version(),
		Compiler:     runtime.Compiler,
		Platform:     runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.GitCommit = s.Value
			case "vcs.time":
				info.BuildDate = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					info.GitTreeState = "dirty"
				}
			}
		}
	}
	return info
}
