package e2e

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/execlab/execlab/pkg/execlabtest"
)

// baselines holds each component's goroutine count once its stack was up and
// the demo pod running, keyed by base URL.
var baselines = map[string]int{}

func recordBaseline(s *execlabtest.Stack) {
	for _, c := range s.Components() {
		if n, err := s.Goroutines(c); err == nil {
			baselines[c.URL] = n
		}
	}
}

// checkNoGoroutineLeaks waits up to 10 s for every component of s to be back
// at its baseline goroutine count; sessions end asynchronously, so a short
// poll is needed, but a leak never comes back down.
func checkNoGoroutineLeaks(s *execlabtest.Stack) error {
	var errs []error
	for _, c := range s.Components() {
		url := c.URL
		base, ok := baselines[url]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no baseline recorded", url))
			continue
		}
		var n int
		var err error
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if n, err = s.Goroutines(c); err == nil && n <= base {
				break
			}
		}
		if err != nil {
			errs = append(errs, err)
		} else if n > base {
			dump, _ := s.GoroutineDump(c)
			errs = append(errs, fmt.Errorf("%s: %d goroutines, baseline %d:\n%s", url, n, base, dump))
		}
	}
	if len(errs) > 0 {
		return errors.New(strings.TrimSpace(fmt.Sprint(errs)))
	}
	return nil
}
