package e2e

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/procs"
	"github.com/execlab/execlab/pkg/demostack"
	"github.com/execlab/execlab/pkg/execlabtest"
)

// TestDownLeavesNothing: with execs of `sh -c "sleep N & sleep N"` running,
// some components are killed with SIGKILL, in a random order; then
// demostack.Down (`make down`) leaves no process of the stack in the
// process table, the sleeps a killed fake-cri could not end included, and
// names what it ended.
func TestDownLeavesNothing(t *testing.T) {
	skipOn(t, containerdRuntime, "containerd's shims, not the stack, run the commands")
	t.Parallel()
	for i, kill := range [][]string{
		{"cri"},
		{"apiserver", "kubelet", "cri"},
		{},
	} {
		t.Run(strings.Join(append([]string{"killed"}, kill...), "-"), func(t *testing.T) {
			state := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			s, err := startStack(ctx, state, execlabtest.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Stop() })
			seconds := strconv.Itoa(987300 + i)
			client := kubectlLatest.command(ctx, t, s, "exec", "demo", "--", "sh", "-c", "sleep "+seconds+" & sleep "+seconds)
			var stderr bytes.Buffer
			client.Stderr = &stderr
			if err := client.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { client.Process.Kill(); client.Wait() })
			if !waitUntil(20*time.Second, func() bool { return len(processesRunning("sleep", seconds)) == 2 }) {
				t.Fatalf("the sleeps never started; client stderr: %s", stderr.String())
			}
			sleeps := processesRunning("sleep", seconds)
			byName := map[string]*execlabtest.Component{}
			for _, c := range s.Components() {
				byName[c.Name] = c
			}
			rand.Shuffle(len(kill), func(i, j int) { kill[i], kill[j] = kill[j], kill[i] })
			for _, name := range kill {
				byName[name].Kill()
			}
			var pids []int
			for _, c := range s.Components() {
				pids = append(pids, c.PID())
			}

			var out, errOut bytes.Buffer
			if err := demostack.Down(ctx, demostack.Config{StateDir: state, Stdout: &out, Stderr: &errOut}); err != nil {
				t.Fatalf("Down: %v\n%s", err, errOut.String())
			}
			t.Logf("killed %v; Down said:\n%s", kill, errOut.String())
			if left := processesRunning("sleep", seconds); len(left) != 0 {
				t.Errorf("after Down the sleeps %v of %v still run", left, sleeps)
			}
			for _, pid := range pids {
				if alive(pid) {
					t.Errorf("component pid %d still runs after Down", pid)
				}
			}
			if left := markedProcesses(state); len(left) != 0 {
				t.Errorf("processes marked as the stack's after Down: %v", left)
			}
			// What a killed fake-cri left is named: the background sleep,
			// which no Pdeathsig reaches, when fake-cri died first (the
			// other may be named too, when Down is faster than Pdeathsig).
			// Killed after another component, fake-cri may have hung the
			// command up already; stopped, it ended its sessions itself.
			n := strings.Count(errOut.String(), " left running: sleep "+seconds+"\n")
			if first := len(kill) > 0 && kill[0] == "cri"; first && n == 0 || !slices.Contains(kill, "cri") && n != 0 {
				t.Errorf("Down's report names %d sleeps", n)
			}
			exitsWithin(t, client, 10*time.Second) // the client's error is TestKillDuringExecs's
		})
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && !bytes.Contains(stat, []byte(") Z "))
}

// markedProcesses lists the live processes whose environment marks them
// as the stack's in state (pkg/execlabtest's EXECLAB_STACK).
func markedProcesses(state string) []int {
	var pids []int
	for _, pid := range procs.All() {
		if procs.HasEnv(pid, "EXECLAB_STACK="+state) {
			pids = append(pids, pid)
		}
	}
	return pids
}
