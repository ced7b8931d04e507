package fakecri

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/execlab/execlab/internal/procs"
)

// sessionsDir, under Root, records the sessions of the processes fake-cri
// runs as its children (procs.Sessions): the execs, and the containers'
// main processes when there is no shim. A fake-cri that died leaves them:
// Pdeathsig kills the leaders, not what they started, and these records
// are how the next fake-cri, or the stack's `down`, finds and ends it (as
// containerd finds its shims by their state directories,
// runtime/v2/manager.go loadShims). A shim records its own session and its
// process's in containers/<id>/shim/sessions.
const sessionsDir = "sessions"

// sessions records the sessions of fake-cri's children.
func (rt *Runtime) sessions() procs.Sessions {
	return procs.Sessions(filepath.Join(rt.root, sessionsDir))
}

// EndSessions kills every process recorded under root, the Root of a
// fake-cri that is no longer running: what its children left, and its
// containers with their shims, which outlive it by design. It is what the
// stack's `down` calls.
func EndSessions(root string) ([]procs.Process, error) {
	dirs, err := filepath.Glob(filepath.Join(root, containersDir, "*", shimDir, sessionsDir))
	if err != nil {
		return nil, err
	}
	var ended []procs.Process
	var errs []error
	for _, d := range append([]string{filepath.Join(root, sessionsDir)}, dirs...) {
		e, err := procs.Sessions(d).End()
		ended = append(ended, e...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", d, err))
		}
	}
	return ended, errors.Join(errs...)
}
