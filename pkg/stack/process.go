package stack

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Process is one running component.
type Process struct {
	Name string
	// URL is the component's HTTP base URL, when it has one.
	URL     string
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
}

// StartProcess starts binary with args, its output appended to logPath. The
// process gets SIGTERM if the caller dies, so a crashed test leaves nothing.
func StartProcess(binary, logPath string, args []string) (*Process, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", binary, err)
	}
	p := &Process{Name: binary, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// PID is the process ID.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited is closed once the process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Signal sends sig to the process.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends SIGTERM and waits up to 10 s, then SIGKILL. A nil Process or one
// already stopped is fine. A process that needed SIGKILL is an error: it means
// the component does not shut down cleanly.
func (p *Process) Stop() error {
	if p == nil {
		return nil
	}
	select {
	case <-p.done:
		return nil
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(10 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s (pid %d) ignored SIGTERM for 10s and was killed", p.Name, p.PID())
	}
}

// Log returns what the process has logged so far.
func (p *Process) Log() string {
	b, _ := os.ReadFile(p.LogPath)
	return string(b)
}

func (p *Process) waitFor(ctx context.Context, ready func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for !ready() {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up (%v): %s", p.Name, p.err, lastLines(p.Log(), 20))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w: %s", p.Name, ctx.Err(), lastLines(p.Log(), 20))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// exited reports whether p has exited.
func exited(p *Process) bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Kill sends SIGKILL and waits for the process to exit, as a crash would
// end it.
func (p *Process) Kill() {
	p.cmd.Process.Kill()
	<-p.done
}

// restart starts the process again, exited first, with the same binary,
// arguments and log; p then describes the new process.
func (p *Process) restart() error {
	if !exited(p) {
		return fmt.Errorf("restart %s: it is still running", p.Name)
	}
	next, err := StartProcess(p.cmd.Path, p.LogPath, p.cmd.Args[1:])
	if err != nil {
		return err
	}
	next.Name, next.URL = p.Name, p.URL
	*p = *next
	return nil
}
