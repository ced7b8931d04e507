package procs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sessions is a directory with a file per process session someone leads,
// named by the session ID and holding the leader's start time, from start
// until reaped. Whoever finds it after its owner died (a restarted
// fake-cri, the stack's `down`) knows what to end, as containerd finds its
// shims by their state directories (runtime/v2/manager.go loadShims).
type Sessions string

// Record notes that the process pid leads a session recorded here.
func (d Sessions) Record(pid int) error {
	start, err := StartTime(pid)
	if err == nil {
		err = os.WriteFile(filepath.Join(string(d), strconv.Itoa(pid)), []byte(strconv.FormatUint(start, 10)+"\n"), 0o644)
	}
	if err != nil {
		return fmt.Errorf("record session %d: %w", pid, err)
	}
	return nil
}

// Forget removes the record of a session that has ended.
func (d Sessions) Forget(pid int) {
	os.Remove(filepath.Join(string(d), strconv.Itoa(pid)))
}

// End kills every process of the sessions recorded here and forgets them.
// A session's ID is not reused while a process of it lives, so every member
// is ours, unless its leader's PID runs another process than the recorded
// one (the session ended and the PID went to a stranger): that one is left.
func (d Sessions) End() ([]Process, error) {
	entries, err := os.ReadDir(string(d))
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
		data, err := os.ReadFile(filepath.Join(string(d), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read session %d: %w", sid, err)
		}
		recorded, _ := strconv.ParseUint(string(bytes.TrimSpace(data)), 10, 64)
		if start, err := StartTime(sid); err != nil || start == recorded {
			sids[sid] = true
		}
	}
	var ended []Process
	for _, pid := range SessionMembers(sids) {
		if p, ok := Kill(pid); ok {
			ended = append(ended, p)
		}
	}
	for _, e := range entries {
		os.Remove(filepath.Join(string(d), e.Name()))
	}
	return ended, nil
}

// KillSession sends SIGKILL to the process group sid and to every other
// process of session sid: an interactive shell puts its jobs in groups of
// their own. Only a process that left the session (setsid) escapes.
func KillSession(sid int) {
	unix.Kill(-sid, unix.SIGKILL)
	for _, pid := range SessionMembers(map[int]bool{sid: true}) {
		if pid != sid {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// SessionMembers lists the processes of the sessions sids, as /proc shows
// them now.
func SessionMembers(sids map[int]bool) []int {
	var pids []int
	for _, pid := range All() {
		if s, err := unix.Getsid(pid); err == nil && sids[s] {
			pids = append(pids, pid)
		}
	}
	return pids
}

// ExitCode is the code runc reports for a process that ended as ps says:
// its exit status, or 128+n when signal n killed it.
func ExitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// WaitExited blocks until the child pid has exited, without reaping it:
// while it is a zombie its ID cannot be reused, so that killing its session
// next cannot hit a stranger.
func WaitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return
		}
	}
}
