// Package procs reads the process table (/proc) for what must find
// processes whatever became of their parents: fake-cri's sessions after a
// crash, a stack's leftovers at `down`. Sessions records the sessions a
// runtime leads, so that they can be found and ended.
package procs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// Process is one process, as a report names it.
type Process struct {
	PID     int
	Command string // the command line, arguments joined by spaces
}

// All lists the PIDs of the processes /proc shows now.
func All() []int {
	// Unsorted names, parsed without fmt: fake-cri scans /proc at the end
	// of every exec, with thousands of sessions open.
	dir, err := os.Open("/proc")
	if err != nil {
		return nil
	}
	names, _ := dir.Readdirnames(-1)
	dir.Close()
	pids := make([]int, 0, len(names))
	for _, name := range names {
		if pid, err := strconv.Atoi(name); err == nil {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Kill sends SIGKILL to pid and reports it, with its command line read
// just before; false if there was no such process or it had ended already
// (a zombie, which has no command line).
func Kill(pid int) (Process, bool) {
	cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if len(cmdline) == 0 || unix.Kill(pid, unix.SIGKILL) != nil {
		return Process{}, false
	}
	return Process{PID: pid, Command: string(bytes.ReplaceAll(bytes.TrimRight(cmdline, "\x00"), []byte{0}, []byte(" ")))}, true
}

// WaitGone waits, up to timeout, until none of ps runs any more (a zombie
// has ended); it reports those that still run.
func WaitGone(ps []Process, timeout time.Duration) []Process {
	deadline := time.Now().Add(timeout)
	for {
		var running []Process
		for _, p := range ps {
			if cmdline, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.PID), "cmdline")); len(cmdline) > 0 {
				running = append(running, p)
			}
		}
		if len(running) == 0 || time.Now().After(deadline) {
			return running
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// HasEnv reports whether pid's environment holds the entry kv exactly
// (NAME=value); a zombie's is empty.
func HasEnv(pid int, kv string) bool {
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return false
	}
	for entry := range bytes.SplitSeq(environ, []byte{0}) {
		if string(entry) == kv {
			return true
		}
	}
	return false
}

// StartTime is when pid started, in clock ticks after boot (field 22 of
// /proc/PID/stat): with the PID, it names one process for good.
func StartTime(pid int) (uint64, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces.
	fields := bytes.Fields(stat[bytes.LastIndexByte(stat, ')')+1:])
	if len(fields) < 20 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	return strconv.ParseUint(string(fields[19]), 10, 64)
}
