package fakecri

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/execlab/execlab/internal/procs"
)

// sessionsDir, under Root, has a file per process session fake-cri leads
// (a container's main process or an exec), named by the session ID and
// holding the leader's start time, from start until reaped. A fake-cri
// that died leaves them: Pdeathsig kills the leaders, not what they
// started, and these files are how the next fake-cri, or the stack's
// `down`, finds and ends it (as containerd finds its shims by their
// state directories, runtime/v2/manager.go loadShims).
const sessionsDir = "sessions"

// recordSession notes that the process pid leads a session of ours.
func recordSession(dir string, pid int) error {
	start, err := procs.StartTime(pid)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, strconv.Itoa(pid)), []byte(strconv.FormatUint(start, 10)+"\n"), 0o644)
	}
	if err != nil {
		return fmt.Errorf("record session %d: %w", pid, err)
	}
	return nil
}

// forgetSession removes the record of a session that has ended.
func forgetSession(dir string, pid int) {
	os.Remove(filepath.Join(dir, strconv.Itoa(pid)))
}

// EndSessions kills every process of the sessions recorded under root, the
// Root of a fake-cri that is no longer running, and forgets them. A
// session's ID is not reused while a process of it lives, so every member
// is ours, unless its leader's PID runs another process than the recorded
// one (the session ended and the PID went to a stranger): that one is left.
func EndSessions(root string) ([]procs.Process, error) {
	dir := filepath.Join(root, sessionsDir)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	sids := map[int]bool{}
	for _, e := range entries {
		sid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read session %d: %w", sid, err)
		}
		recorded, _ := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
		if start, err := procs.StartTime(sid); err != nil || start == recorded {
			sids[sid] = true
		}
	}
	var ended []procs.Process
	for _, pid := range sessionMembers(sids) {
		if p, ok := procs.Kill(pid); ok {
			ended = append(ended, p)
		}
	}
	for _, e := range entries {
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return ended, nil
}
