package execlabtest

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/pkg/fakecri"
)

// stackEnv marks every process the stack starts, in its environment, with
// the stack's state directory: whatever happened to its PID file or its
// parent, /proc tells it apart from other stacks' processes of the same
// binaries. (Not $EXECLAB_STATE: a person's shell may carry that one.)
const stackEnv = "EXECLAB_STACK"

func (s *Stack) mark() string { return stackEnv + "=" + s.opts.StateDir }

// endLeftovers kills, once the components are stopped, what they left
// running: each fake-cri's containers and their shims, which outlive it as
// containerd's do, and what a fake-cri killed before it could end its
// execs left (fakecri.EndSessions); and any process marked with the stack's
// state directory (stackEnv) that is still alive; and waits until they
// are gone.
func (s *Stack) endLeftovers() ([]procs.Process, error) {
	var ended []procs.Process
	var errs []error
	for _, n := range s.Nodes {
		if n.Runtime == nil || n.RuntimeDir == "" {
			continue
		}
		e, err := fakecri.EndSessions(n.RuntimeDir)
		ended = append(ended, e...)
		errs = append(errs, err)
	}
	// A fake-cri's shims carry the mark too (they inherit its
	// environment): each is named once.
	seen := map[int]bool{}
	for _, p := range ended {
		seen[p.PID] = true
	}
	for _, pid := range procs.All() {
		if pid == os.Getpid() || seen[pid] || !procs.HasEnv(pid, s.mark()) {
			continue
		}
		if p, ok := procs.Kill(pid); ok {
			ended = append(ended, p)
		}
	}
	// SIGKILL is sure, not instant.
	if left := procs.WaitGone(ended, 5*time.Second); len(left) > 0 {
		errs = append(errs, fmt.Errorf("still running 5s after SIGKILL: %v", left))
	}
	return ended, errors.Join(errs...)
}
