// Package goroutines tells whether goroutines were left running: all of a
// process's (internal/testutil.CheckGoroutines) or only those carrying a
// runtime/pprof label, which every goroutine inherits from the one that
// started it — so that a component run in a test process under a label can
// be checked for leaks while other tests run beside it (pkg/execlabtest).
//
//	goroutines.go  Wait: the bounded wait and the report; Labelled, LabelledMatching:
//	               a count by label, and by what the stack holds
package goroutines

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Timeout is how long Wait lets goroutines take to end: sessions and
// servers end asynchronously, but a leak never comes back down.
const Timeout = 10 * time.Second

// Wait fails t unless, within Timeout, count reports no more than base, and
// then shows what dump returns.
func Wait(t testing.TB, base int, count func() int, dump func() string) {
	t.Helper()
	var n int
	for deadline := time.Now().Add(Timeout); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = count(); n <= base {
			return
		}
	}
	t.Errorf("%d goroutines left running, %d before:\n%s", n, base, dump())
}

// Labelled counts the goroutines whose pprof labels include key=value, and
// returns their stacks, grouped as the goroutine profile groups them.
func Labelled(key, value string) (int, string) {
	return LabelledMatching(key, value, nil)
}

// LabelledMatching is Labelled for the goroutines whose stack (a group of
// the profile) match also keeps; a nil match keeps all.
func LabelledMatching(key, value string, match func(stack string) bool) (int, string) {
	var profile bytes.Buffer
	// debug=1 prints each group as "N @ pcs", then "# labels: {...}" when
	// it has labels, then its frames, then a blank line.
	pprof.Lookup("goroutine").WriteTo(&profile, 1)
	want := strconv.Quote(key) + ":" + strconv.Quote(value)
	var n int
	var dump strings.Builder
	for _, group := range strings.Split(profile.String(), "\n\n") {
		head, rest, _ := strings.Cut(group, "\n")
		labels, _, _ := strings.Cut(rest, "\n")
		if !strings.HasPrefix(labels, "# labels: ") || !hasLabel(labels, want) || match != nil && !match(group) {
			continue
		}
		count, _, _ := strings.Cut(head, " @ ")
		if c, err := strconv.Atoi(count); err == nil {
			n += c
		}
		fmt.Fprintf(&dump, "%s\n\n", group)
	}
	return n, dump.String()
}

// hasLabel reports whether the labels line, {"k":"v", "k2":"v2"}, holds
// the pair want exactly (not as the prefix of a longer value).
func hasLabel(labels, want string) bool {
	i := strings.Index(labels, want)
	if i < 0 {
		return false
	}
	next := labels[i+len(want):]
	return strings.HasPrefix(next, ",") || strings.HasPrefix(next, "}")
}
