package goroutines

import (
	"context"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
)

func TestLabelled(t *testing.T) {
	stop := make(chan struct{})
	var started sync.WaitGroup
	started.Add(3)
	wait := func() { started.Done(); <-stop }
	// Two goroutines of "7", one started by the other; one of "70", which
	// must not count as "7".
	pprof.Do(context.Background(), pprof.Labels("stack", "7"), func(context.Context) {
		go func() {
			go wait()
			wait()
		}()
	})
	pprof.Do(context.Background(), pprof.Labels("stack", "70"), func(context.Context) {
		go wait()
	})
	started.Wait()
	n, dump := Labelled("stack", "7")
	if n != 2 || !strings.Contains(dump, "TestLabelled") {
		t.Errorf("Labelled: %d goroutines, dump:\n%s", n, dump)
	}
	if n, _ := Labelled("stack", "8"); n != 0 {
		t.Errorf("Labelled of another value: %d goroutines", n)
	}
	close(stop)
	Wait(t, 0, func() int { n, _ := Labelled("stack", "7"); return n }, func() string { return "" })
}
