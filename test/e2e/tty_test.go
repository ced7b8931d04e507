package e2e

import (
	"strings"
	"sync"
	"testing"
)

// TestInitialTerminalSize: `kubectl exec -it demo -- stty size` under a
// 40x100 terminal prints "40 100" every time, over WebSocket and SPDY,
// through the chain. kubectl sends the size as soon as its streams are up,
// but upstream's runtimes start the command first, and stty then reads
// 0 0 now and then; the fake runtime waits for the first size.
func TestInitialTerminalSize(t *testing.T) {
	const runs, parallel = 100, 4
	for _, c := range []client{kubectlLatest, kubectlNoWS} {
		t.Run(c.name, func(t *testing.T) {
			var (
				mu    sync.Mutex
				wrong []string
				wg    sync.WaitGroup
				next  = make(chan int)
			)
			for range parallel {
				wg.Go(func() {
					for range next {
						term := c.runTerminal(t, shared, 40, 100, "exec", "-it", "demo", "--", "stty", "size")
						code := term.wait()
						if out := term.output(); code != 0 || !strings.Contains(out, "40 100") {
							mu.Lock()
							wrong = append(wrong, strings.TrimSpace(out))
							mu.Unlock()
						}
					}
				})
			}
			for i := range runs {
				next <- i
			}
			close(next)
			wg.Wait()
			if runtimeName != fakeRuntime {
				t.Logf("%d of %d runs without the size (containerd starts the command before it applies the size): %q", len(wrong), runs, wrong)
				return
			}
			if len(wrong) > 0 {
				t.Errorf("%d of %d runs printed no 40 100: %q", len(wrong), runs, wrong)
			}
		})
	}
}
