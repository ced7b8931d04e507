package fakecri

import (
	"syscall"
)

// task is what runs as a container's main process.
type task interface {
	// signal delivers sig, the way StopContainer asks.
	signal(sig syscall.Signal) error
	// kill ends the task and all it started, now.
	kill()
	// wait blocks until the task has ended and returns its exit code.
	wait() int
	// processID is the process ID, 0 when there is no process.
	processID() int
}

func (p *process) processID() int { return p.pid }

// idleTask stands for a container with neither command nor args, whose image
// would supply them: nothing runs, and it behaves like the pause process,
// which exits 0 on SIGINT or SIGTERM and dies on SIGKILL.
type idleTask struct {
	sig  chan syscall.Signal
	done chan struct{}
}

func newIdleTask() *idleTask {
	return &idleTask{sig: make(chan syscall.Signal), done: make(chan struct{})}
}

func (t *idleTask) signal(sig syscall.Signal) error {
	select {
	case t.sig <- sig:
	case <-t.done:
	}
	return nil
}

func (t *idleTask) kill() { t.signal(syscall.SIGKILL) }

func (t *idleTask) wait() int {
	defer close(t.done)
	for {
		switch sig := <-t.sig; sig {
		case syscall.SIGINT, syscall.SIGTERM:
			return 0
		case syscall.SIGKILL:
			return 128 + int(sig)
		case syscall.SIGCHLD, syscall.SIGWINCH, syscall.SIGURG, syscall.SIGCONT:
			// ignored by default, as by any process
		default:
			return 128 + int(sig)
		}
	}
}

func (t *idleTask) processID() int { return 0 }
