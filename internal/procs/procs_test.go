package procs

import (
	"os"
	"os/exec"
	"slices"
	"testing"
	"time"
)

func TestProcess(t *testing.T) {
	cmd := exec.Command("sleep", "1004")
	cmd.Env = []string{"PROCS_TEST=yes", "OTHER=1"}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	pid := cmd.Process.Pid
	if !slices.Contains(All(), pid) || !slices.Contains(All(), os.Getpid()) {
		t.Errorf("All lacks %d or this process", pid)
	}
	if !HasEnv(pid, "PROCS_TEST=yes") || HasEnv(pid, "PROCS_TEST=no") || HasEnv(pid, "PROCS_TEST") {
		t.Error("HasEnv does not match whole entries")
	}
	mine, err := StartTime(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if child, err := StartTime(pid); err != nil || child < mine {
		t.Errorf("the child started at %d (%v), this process at %d", child, err, mine)
	}
	p, ok := Kill(pid)
	if !ok || p != (Process{PID: pid, Command: "sleep 1004"}) {
		t.Errorf("Kill: %+v, %v", p, ok)
	}
	if left := WaitGone([]Process{p}, 5*time.Second); len(left) != 0 {
		t.Errorf("still running after SIGKILL: %v", left)
	}
	// A zombie, not yet reaped, has ended: nothing to kill.
	if _, ok := Kill(pid); ok {
		t.Error("Kill of a zombie reported it")
	}
	cmd.Wait()
}
