package execlabtest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// termGrace is how long a process may take to stop on SIGTERM before it
// gets SIGKILL.
const termGrace = 10 * time.Second

// runProcess runs a component as a process of its binary, its output
// appended to its log and its PID in its PID file.
type runProcess struct {
	binary  string
	args    []string
	logPath string
	pidPath string
	// detach starts it in a session of its own that outlives this process;
	// otherwise it gets SIGTERM when this process dies, so that a crashed
	// test leaves nothing.
	detach bool
	// env is added to the environment the process inherits: the stack's
	// mark (stackEnv).
	env []string
	runState
	proc *os.Process
}

func (r *runProcess) start() error { return r.launch(r.startProcess) }

func (r *runProcess) startProcess(done chan struct{}) error {
	log, err := os.OpenFile(r.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(r.binary, r.args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), r.env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if r.detach {
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", r.binary, err)
	}
	if err := os.WriteFile(r.pidPath, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	r.mu.Lock()
	r.proc = cmd.Process
	r.mu.Unlock()
	go func() { r.end(done, cmd.Wait()) }()
	return nil
}

// adopt takes over a process a detached stack started, which is not this
// process's child: it is known to have ended when its PID no longer runs
// its binary.
func (r *runProcess) adopt(pid int) {
	done, _ := r.begin()            // a runProcess not yet run
	r.proc, _ = os.FindProcess(pid) // always succeeds on Unix
	if !runsBinary(pid, r.binary) {
		r.end(done, nil)
		return
	}
	go func() {
		for runsBinary(pid, r.binary) {
			time.Sleep(50 * time.Millisecond)
		}
		r.end(done, nil)
	}()
}

// runsBinary reports whether pid is a live process (not a zombie) whose
// command line starts with binary: a recycled PID is not taken for ours.
func runsBinary(pid int, binary string) bool {
	proc := filepath.Join("/proc", strconv.Itoa(pid))
	cmdline, err := os.ReadFile(filepath.Join(proc, "cmdline"))
	if err != nil || !bytes.HasPrefix(cmdline, append([]byte(binary), 0)) {
		return false
	}
	stat, err := os.ReadFile(filepath.Join(proc, "stat"))
	return err == nil && !bytes.Contains(stat, []byte(") Z "))
}

func (r *runProcess) stop() error {
	done := r.exited()
	if isClosed(done) {
		return nil
	}
	defer os.Remove(r.pidPath)
	r.signal(syscall.SIGTERM)
	select {
	case <-done:
		return nil
	case <-time.After(termGrace):
		r.kill()
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for %v and was killed", r.binary, r.pid(), termGrace)
	}
}

func (r *runProcess) kill() {
	// An adopted PID that ended may be another process's by now.
	if done := r.exited(); !isClosed(done) {
		r.signal(syscall.SIGKILL)
		<-done
	}
}

func (r *runProcess) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.proc.Pid
}

func (r *runProcess) signal(sig os.Signal) error {
	r.mu.Lock()
	proc := r.proc
	r.mu.Unlock()
	return proc.Signal(sig)
}
