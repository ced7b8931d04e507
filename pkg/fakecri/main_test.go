package fakecri

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/execlab/execlab/pkg/fakecri/imagebin"
	"github.com/execlab/execlab/pkg/fakecri/shim"
)

// TestMain fails the run if a test left a child process behind. Run as an
// image's program, the test binary is imagebin (cmd/imagebin); run as a
// shim, it is fake-cri-shim (cmd/fake-cri-shim): the tests' runtimes use
// both.
func TestMain(m *testing.M) {
	if os.Getenv(imagebin.ProgramEnv) != "" {
		os.Exit(imagebin.Main(os.Args))
	}
	if os.Getenv(shim.InvokedEnv) != "" {
		os.Exit(shim.Main(os.Args))
	}
	code := m.Run()
	if left := children(); len(left) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "processes left behind: %v\n", left)
		code = 1
	}
	os.Exit(code)
}

// children lists the processes whose parent is this one.
func children() []string {
	me := strconv.Itoa(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	var left []string
	for _, e := range entries {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		_, after, _ := strings.Cut(string(b), ") ")
		if f := strings.Fields(after); len(f) > 1 && f[1] == me {
			left = append(left, e.Name()+" "+string(b[:min(len(b), 60)]))
		}
	}
	return left
}
