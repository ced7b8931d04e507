package minikubectl

import (
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"k8s.io/klog/v2"
)

// TestMain keeps klog, which client-go and the upstream servers in these
// tests log through, off the test output; tests that read it redirect it.
// It also starts os/signal's watcher, which lives on once started, so that
// goroutine counts taken in tests do not see it appear.
func TestMain(m *testing.M) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGWINCH)
	signal.Stop(c)

	fs := flag.NewFlagSet("klog", flag.ExitOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
	os.Exit(m.Run())
}
