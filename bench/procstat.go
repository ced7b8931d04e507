package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// What /proc says of a process, read before and after each measurement.

// clockTick is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture Go runs on.
const clockTick = 10 * time.Millisecond

// procSample is one reading of a process.
type procSample struct {
	// CPU is utime+stime of every thread (/proc/PID/stat).
	CPU time.Duration
	// From /proc/PID/io: read and write syscalls and the bytes they moved
	// (sockets and pipes included; splice moves bytes without counting).
	ReadCalls, WriteCalls uint64
	ReadBytes, WriteBytes uint64
	// RSS from /proc/PID/status (VmRSS), in bytes.
	RSS int64
	// FDs open.
	FDs int
}

func (a procSample) sub(b procSample) procSample {
	return procSample{
		CPU:        a.CPU - b.CPU,
		ReadCalls:  a.ReadCalls - b.ReadCalls,
		WriteCalls: a.WriteCalls - b.WriteCalls,
		ReadBytes:  a.ReadBytes - b.ReadBytes,
		WriteBytes: a.WriteBytes - b.WriteBytes,
		RSS:        a.RSS - b.RSS,
		FDs:        a.FDs - b.FDs,
	}
}

func (a procSample) add(b procSample) procSample {
	return procSample{
		CPU:        a.CPU + b.CPU,
		ReadCalls:  a.ReadCalls + b.ReadCalls,
		WriteCalls: a.WriteCalls + b.WriteCalls,
		ReadBytes:  a.ReadBytes + b.ReadBytes,
		WriteBytes: a.WriteBytes + b.WriteBytes,
		RSS:        a.RSS + b.RSS,
		FDs:        a.FDs + b.FDs,
	}
}

// sampleCPUIO reads a process's CPU and I/O counters: cheap enough to call
// around every exec.
func sampleCPUIO(pid int) (procSample, error) {
	var s procSample
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		return s, err
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis; utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(utime+stime) * clockTick
	io, err := os.ReadFile(filepath.Join(dir, "io"))
	if err != nil {
		return s, err
	}
	sc := bufio.NewScanner(bytes.NewReader(io))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ": ")
		n, _ := strconv.ParseUint(v, 10, 64)
		switch k {
		case "rchar":
			s.ReadBytes = n
		case "wchar":
			s.WriteBytes = n
		case "syscr":
			s.ReadCalls = n
		case "syscw":
			s.WriteCalls = n
		}
	}
	return s, nil
}

// sampleAll adds RSS and open FDs to sampleCPUIO.
func sampleAll(pid int) (procSample, error) {
	s, err := sampleCPUIO(pid)
	if err != nil {
		return s, err
	}
	dir := filepath.Join("/proc", strconv.Itoa(pid))
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return s, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			s.RSS = kb << 10
		}
	}
	fds, err := os.ReadDir(filepath.Join(dir, "fd"))
	if err != nil {
		return s, err
	}
	s.FDs = len(fds)
	return s, nil
}

// children counts the live processes whose parent is pid: the commands a
// runtime still runs.
func children(pid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, state, ok := parentOf(child); ok && ppid == pid && state != "Z" {
			n++
		}
	}
	return n
}

// parentOf reads a process's parent and state.
func parentOf(pid int) (ppid int, state string, ok bool) {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, "", false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, "", false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 2 {
		return 0, "", false
	}
	ppid, err = strconv.Atoi(f[1])
	return ppid, f[0], err == nil
}

// descendants lists the live processes under pid, its children first.
func descendants(pid int) []int {
	entries, _ := os.ReadDir("/proc")
	parent := map[int]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, state, ok := parentOf(p); ok && state != "Z" {
			parent[p] = pp
		}
	}
	var out []int
	frontier := []int{pid}
	for len(frontier) > 0 {
		var next []int
		for p, pp := range parent {
			for _, f := range frontier {
				if pp == f {
					next = append(next, p)
				}
			}
		}
		out = append(out, next...)
		frontier = next
	}
	return out
}

// memAvailable is MemAvailable from /proc/meminfo, in bytes.
func memAvailable() int64 {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// cmdline is a process's command line, its arguments joined by spaces.
func cmdline(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}
