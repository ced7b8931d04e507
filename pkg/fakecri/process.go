package fakecri

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/execlab/execlab/internal/procs"
)

// defaultPath is the PATH a container gets when its environment sets none:
// containerd's default for images without one (pkg/oci.DefaultSpec).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// procSpec says how to start one process of a container.
type procSpec struct {
	argv  []string
	env   []string // complete: nothing is inherited from fake-cri
	dir   string
	files imageFiles // the image's executables, over the host's
	tty   bool
	size  *pty.Winsize // the terminal's first size, with tty
	// stdin keeps a pipe to the process's stdin; without it (and without a
	// TTY) stdin is /dev/null, as runc gives a process with no stdin.
	stdin bool
	// sessions records the session while it lives (sessions.go).
	sessions procs.Sessions
}

// stdio is the runtime's ends of a process's stdio. With a TTY, stdin and
// stdout are both the terminal's master and stderr is nil.
type stdio struct {
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr io.ReadCloser
	pty    *os.File
}

// process is one running local process, fake-cri's child. It leads its own
// session and process group, so that signalling and killing reach what it
// started.
type process struct {
	stdio
	cmd      *exec.Cmd
	pid      int
	sessions procs.Sessions

	mu     sync.Mutex
	reaped bool
}

// command is the executable and environment runc would exec for spec:
// spec.argv[0] looked up in the PATH of spec.env, the image's files first
// (lookPath).
func (spec procSpec) command() (path string, env []string, err error) {
	if len(spec.argv) == 0 {
		return "", nil, fmt.Errorf("no command: %w", errInvalidArgument)
	}
	path, extraEnv, err := lookPath(spec.argv[0], spec.env, spec.dir, spec.files)
	if err != nil {
		return "", nil, err
	}
	env = spec.env
	if extraEnv != "" {
		env = append(slices.Clone(env), extraEnv)
	}
	return path, env, nil
}

// startProcess starts spec's command as a child of fake-cri.
func startProcess(spec procSpec) (*process, error) {
	path, env, err := spec.command()
	if err != nil {
		return nil, err
	}
	cmd := &exec.Cmd{
		Path: path,
		Args: spec.argv,
		Env:  env,
		Dir:  spec.dir,
		// Pdeathsig: nothing outlives fake-cri. Setsid: a session and process
		// group of its own, which stop and kill address as a whole.
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	}
	p := &process{cmd: cmd, sessions: spec.sessions}
	var childEnds []io.Closer
	defer func() {
		for _, c := range childEnds {
			c.Close()
		}
	}()
	if spec.tty {
		master, slave, err := openPTY(spec.size)
		if err != nil {
			return nil, err
		}
		childEnds = append(childEnds, slave)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
		cmd.SysProcAttr.Setctty = true // Ctty 0: the child's stdin
		p.pty, p.stdin, p.stdout = master, master, ptyReader{master}
	} else {
		if spec.stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return nil, err
			}
			childEnds = append(childEnds, r)
			cmd.Stdin, p.stdin = r, w
		}
		for _, out := range []struct {
			child  *io.Writer
			parent *io.ReadCloser
		}{{&cmd.Stdout, &p.stdout}, {&cmd.Stderr, &p.stderr}} {
			r, w, err := os.Pipe()
			if err != nil {
				p.closeStdio()
				return nil, err
			}
			childEnds = append(childEnds, w)
			*out.child, *out.parent = w, r
		}
	}
	if err := cmd.Start(); err != nil {
		p.closeStdio()
		return nil, err
	}
	p.pid = cmd.Process.Pid
	if err := spec.sessions.Record(p.pid); err != nil {
		p.kill()
		p.wait()
		p.closeStdio()
		return nil, err
	}
	return p, nil
}

// openPTY opens a pseudo-terminal of the given size (nil: the kernel's
// default). pty.Open leaves the master in blocking mode (it calls Fd), where
// a read cannot be interrupted; the master returned is a non-blocking copy,
// served by the runtime poller like a pipe.
func openPTY(size *pty.Winsize) (master, slave *os.File, err error) {
	m, slave, err := pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	defer m.Close()
	if size != nil {
		if err := pty.Setsize(m, size); err != nil {
			slave.Close()
			return nil, nil, fmt.Errorf("set terminal size: %w", err)
		}
	}
	fd, err := unix.FcntlInt(m.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err == nil {
		if err = unix.SetNonblock(fd, true); err != nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		slave.Close()
		return nil, nil, fmt.Errorf("open pty: %w", err)
	}
	return os.NewFile(uintptr(fd), m.Name()), slave, nil
}

// setTerminalSize resizes the terminal whose master is f. It does the ioctl
// through the runtime poller's raw connection: pty.Setsize calls Fd, which
// would put the master back into blocking mode.
func setTerminalSize(f *os.File, width, height uint16) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	ctlErr := rc.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: height, Col: width})
	})
	if ctlErr != nil {
		return ctlErr
	}
	return err
}

// signal sends sig to the process's group. Once the process is reaped its
// group may be gone and its ID reused, so it does nothing then.
func (p *process) signal(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reaped {
		return nil
	}
	if err := unix.Kill(-p.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", p.pid, err)
	}
	return nil
}

// kill sends SIGKILL to the process's whole session.
func (p *process) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.reaped {
		procs.KillSession(p.pid)
	}
}

// wait blocks until the process exits, kills what is left of its session,
// reaps it and returns its exit code: the status it exited with, or 128+n
// when signal n killed it, as runc reports.
func (p *process) wait() int {
	procs.WaitExited(p.pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	procs.KillSession(p.pid)
	p.sessions.Forget(p.pid)
	p.cmd.Wait()
	p.reaped = true
	return procs.ExitCode(p.cmd.ProcessState)
}

// closeStdio closes the runtime's ends of the process's stdio.
func (s stdio) closeStdio() {
	for _, c := range []io.Closer{s.stdin, s.stdout, s.stderr} {
		if c != nil {
			c.Close()
		}
	}
}

// ptyReader reads a pty master, whose reads fail with EIO once the last
// process holding the terminal has gone: that is the end of its output.
type ptyReader struct{ f *os.File }

func (r ptyReader) Read(b []byte) (int, error) {
	n, err := r.f.Read(b)
	if errors.Is(err, syscall.EIO) {
		err = io.EOF
	}
	return n, err
}

func (r ptyReader) Close() error { return r.f.Close() }

func (r ptyReader) SetReadDeadline(t time.Time) error { return r.f.SetReadDeadline(t) }
