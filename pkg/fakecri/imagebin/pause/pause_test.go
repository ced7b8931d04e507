package pause

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMain lets a test run this binary as the pause program itself.
func TestMain(m *testing.M) {
	if os.Getenv("EXECLAB_PAUSE_MAIN") == "1" {
		os.Exit(Main(os.Args))
	}
	os.Exit(m.Run())
}

// mainEnv runs the test binary as pause; GORACE spares the race detector's
// one-second sleep at exit.
var mainEnv = append(os.Environ(), "EXECLAB_PAUSE_MAIN=1", "GORACE=atexit_sleep_ms=0")

func TestReapCollectsZombies(t *testing.T) {
	var pids []int
	for range 3 {
		cmd := exec.Command("/bin/true")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		pids = append(pids, cmd.Process.Pid)
	}
	for _, pid := range pids {
		waitForZombie(t, pid)
	}
	if got := reap(); got != 3 {
		t.Fatalf("reap() = %d, want 3", got)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pid %d still exists after reap: %v", pid, err)
		}
	}
	if got := reap(); got != 0 {
		t.Fatalf("second reap() = %d, want 0", got)
	}
}

func TestWaitForDownReapsUntilTerm(t *testing.T) {
	down := make(chan os.Signal, 1)
	child := make(chan os.Signal, 1)
	child <- syscall.SIGCHLD
	done := make(chan os.Signal)
	go func() { done <- waitForDown(down, child) }()
	child <- syscall.SIGCHLD // accepted only once the first one was taken
	down <- syscall.SIGTERM
	if got := <-done; got != syscall.SIGTERM {
		t.Fatalf("waitForDown = %v, want SIGTERM", got)
	}
}

func TestExitsZeroOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = mainEnv
			stderr, err := cmd.StderrPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			r := bufio.NewReader(stderr)
			line, err := r.ReadString('\n')
			if line != "Warning: pause should be the first process\n" {
				t.Fatalf("first line %q, %v", line, err)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			var rest bytes.Buffer
			_, _ = rest.ReadFrom(r)
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pause exited with %v, want status 0", err)
			}
			want := "Shutting down, got signal: " + sig.String() + "\n"
			if rest.String() != want {
				t.Fatalf("stderr %q, want %q", rest.String(), want)
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-V")
	cmd.Env = mainEnv
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(out), "pause (execlab) go") {
		t.Fatalf("-V printed %q", out)
	}
}

// waitForZombie polls until pid has exited but is not yet collected.
func waitForZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatal(err)
		}
		// The state follows the command name, which is in parentheses.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i:], []byte(") Z")) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}
