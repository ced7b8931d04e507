package fakecri

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/execlab/execlab/pkg/fakecri/shim"
)

// task is what runs as a container's main process.
type task interface {
	// signal delivers sig, the way StopContainer asks.
	signal(sig syscall.Signal) error
	// kill ends the task and all it started, now.
	kill()
	// wait blocks until the task has ended, or until the runtime let go
	// of it (release), and says how.
	wait() taskExit
	// release lets go of the task, which runs on without this runtime: a
	// shim's keeps running for the next fake-cri; a child of fake-cri
	// cannot and is killed.
	release()
	// delete frees what held the task once its exit is recorded (a
	// containerd task's Delete): its shim ends.
	delete()
	// stdio is the runtime's ends of the task's stdio; nil streams for a
	// task that runs nothing.
	stdio() stdio
	// processID is the process ID, 0 when there is no process.
	processID() int
}

// taskExit is how a task ended.
type taskExit struct {
	code int
	at   int64 // Unix nanoseconds
	// released: the runtime let go of the task (release), which may run
	// on; nothing is to be recorded.
	released bool
}

func exitNow(code int) taskExit { return taskExit{code: code, at: time.Now().UnixNano()} }

// deadShimExitCode is the code of a task whose shim died without telling
// how it ended: containerd records 128+SIGKILL, what the shim's cleanup
// (`shim delete`, which kills what is left) reports
// (core/runtime/v2/shim.go cleanupAfterDeadShim).
const deadShimExitCode = 128 + int(syscall.SIGKILL)

// shimDir, in a container's directory, is its shim's (pkg/fakecri/shim):
// the process's spec, the socket, the shim's log, and the sessions of the
// shim and of the process (procs.Sessions) while they live.
const shimDir = "shim"

// startTask starts spec as c's main process: under a shim when there is one
// (Config.Shim), else as fake-cri's child.
func (rt *Runtime) startTask(c *container, spec procSpec) (task, error) {
	if rt.shim == "" {
		p, err := startProcess(spec)
		if err != nil {
			return nil, err
		}
		return childTask{p}, nil
	}
	path, env, err := spec.command()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(c.dir, shimDir)
	sessions := filepath.Join(dir, sessionsDir)
	if err := os.MkdirAll(sessions, 0o755); err != nil {
		return nil, err
	}
	client, err := shim.Start(rt.shim, dir, shim.Spec{
		Path: path, Args: spec.argv, Env: env, Dir: spec.dir,
		TTY: spec.tty, Stdin: spec.stdin, Sessions: sessions,
	})
	if err != nil {
		return nil, err
	}
	return shimTask{client}, nil
}

// childTask is a main process run as fake-cri's own child, when there is
// no shim to run it (Config.Shim): it dies with fake-cri (Pdeathsig).
type childTask struct{ *process }

func (t childTask) wait() taskExit { return exitNow(t.process.wait()) }
func (t childTask) release()       { t.kill() }
func (t childTask) delete()        {}
func (t childTask) stdio() stdio   { return t.process.stdio }
func (t childTask) processID() int { return t.pid }

// shimTask is a main process run by a shim (pkg/fakecri/shim), which keeps
// it running while fake-cri is away, as containerd-shim-runc-v2 does.
type shimTask struct {
	c *shim.Client
}

func (t shimTask) signal(sig syscall.Signal) error { return t.c.Signal(sig) }
func (t shimTask) kill()                           { t.c.Kill() }
func (t shimTask) release()                        { t.c.Close() }
func (t shimTask) delete()                         { t.c.Shutdown() }
func (t shimTask) processID() int                  { return t.c.PID }

func (t shimTask) wait() taskExit {
	exit, err := t.c.Wait()
	switch {
	case errors.Is(err, shim.ErrClosed):
		return taskExit{released: true}
	case err != nil:
		return exitNow(deadShimExitCode)
	}
	return taskExit{code: exit.Code, at: exit.FinishedAt}
}

func (t shimTask) stdio() stdio {
	if t.c.TTY {
		return stdio{stdin: shimStdin{t.c.Stdin, t.c}, stdout: ptyReader{t.c.Stdout}, pty: t.c.Stdout}
	}
	s := stdio{stdout: t.c.Stdout, stderr: t.c.Stderr}
	if t.c.Stdin != nil {
		s.stdin = shimStdin{t.c.Stdin, t.c}
	}
	return s
}

// shimStdin is the write end of a shim's process's stdin: closing it closes
// the shim's copy too, so that the process reads EOF.
type shimStdin struct {
	*os.File
	c *shim.Client
}

func (s shimStdin) Close() error {
	err := s.File.Close()
	if !s.c.TTY {
		s.c.CloseStdin()
	}
	return err
}

// idleTask stands for a container with neither command nor args, whose image
// would supply them: nothing runs, and it behaves like the pause process,
// which exits 0 on SIGINT or SIGTERM and dies on SIGKILL. Having no process
// to lose, it survives a restart of fake-cri.
type idleTask struct {
	sig         chan syscall.Signal
	done        chan struct{}
	released    chan struct{}
	releaseOnce sync.Once
}

func newIdleTask() *idleTask {
	return &idleTask{sig: make(chan syscall.Signal), done: make(chan struct{}), released: make(chan struct{})}
}

func (t *idleTask) signal(sig syscall.Signal) error {
	select {
	case t.sig <- sig:
	case <-t.done:
	}
	return nil
}

func (t *idleTask) kill()    { t.signal(syscall.SIGKILL) }
func (t *idleTask) release() { t.releaseOnce.Do(func() { close(t.released) }) }

func (t *idleTask) wait() taskExit {
	defer close(t.done)
	for {
		select {
		case <-t.released:
			return taskExit{released: true}
		case sig := <-t.sig:
			switch sig {
			case syscall.SIGINT, syscall.SIGTERM:
				return exitNow(0)
			case syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGCONT:
				// ignored by default, as by any process
			default:
				return exitNow(128 + int(sig))
			}
		}
	}
}

func (t *idleTask) delete()        {}
func (t *idleTask) stdio() stdio   { return stdio{} }
func (t *idleTask) processID() int { return 0 }
