package testutil

import (
	"runtime"
	"testing"

	"github.com/execlab/execlab/internal/goroutines"
)

// CheckGoroutines fails the test if, once everything else the test set up
// has been cleaned up, more goroutines run than when it started: a session
// or a server left behind. Call it first, so that its cleanup runs last.
func CheckGoroutines(t testing.TB) {
	t.Helper()
	base := runtime.NumGoroutine()
	t.Cleanup(func() { WaitGoroutines(t, base) })
}

// WaitGoroutines fails the test unless, within 10 s, no more goroutines
// run than base, and shows them all if more do.
func WaitGoroutines(t testing.TB, base int) {
	t.Helper()
	goroutines.Wait(t, base, runtime.NumGoroutine, func() string {
		buf := make([]byte, 1<<20)
		return string(buf[:runtime.Stack(buf, true)])
	})
}
