package fakecri

import (
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// outputDrainTimeout bounds how long a finished process's output may keep
// flowing: only a process that escaped its session can hold a pipe open that
// long, and it must not keep a container or an exec from ending.
const outputDrainTimeout = 2 * time.Second

// containerIO is a container main process's stdio, as containerd's
// internal/cri/io.ContainerIO: stdout and stderr go to the log and to every
// attached client; attached clients share stdin. With a TTY there is one
// output stream, the terminal's, logged as stdout.
type containerIO struct {
	log    *logFile // nil: logging is off
	stdout *broadcaster
	stderr *broadcaster // nil with a TTY

	// Set by pipe: the task's stdin (nil unless Config.Stdin or a TTY)
	// and its terminal.
	stdin io.WriteCloser
	pty   *os.File

	stdinOnce   sync.Once
	stdinClosed atomic.Bool

	pumps   sync.WaitGroup
	sources []io.ReadCloser
}

func newContainerIO(logPath string, tty bool) (*containerIO, error) {
	cio := &containerIO{}
	var stdoutLog, stderrLog io.WriteCloser
	if logPath != "" {
		f, err := openLogFile(logPath)
		if err != nil {
			return nil, err
		}
		cio.log = f
		stdoutLog = newLineWriter(f, runtimeapi.Stdout)
		stderrLog = newLineWriter(f, runtimeapi.Stderr)
	}
	cio.stdout = newBroadcaster(stdoutLog)
	if !tty {
		cio.stderr = newBroadcaster(stderrLog)
	}
	return cio, nil
}

// pipe starts copying the output of the task whose stdio s is; nothing for
// a task that runs nothing.
func (cio *containerIO) pipe(s stdio) {
	cio.stdin, cio.pty = s.stdin, s.pty
	if s.stdout != nil {
		cio.pump(s.stdout, cio.stdout)
	}
	if s.stderr != nil {
		cio.pump(s.stderr, cio.stderr)
	}
}

func (cio *containerIO) pump(src io.ReadCloser, dst *broadcaster) {
	cio.sources = append(cio.sources, src)
	cio.pumps.Add(1)
	go func() {
		defer cio.pumps.Done()
		io.Copy(dst, src)
	}()
}

// writeStdin feeds the process's stdin; it fails once stdin is closed. No
// lock is held while writing: closing the file ends a write blocked on a
// process that does not read.
func (cio *containerIO) writeStdin(b []byte) error {
	if cio.stdin == nil || cio.stdinClosed.Load() {
		return os.ErrClosed
	}
	_, err := cio.stdin.Write(b)
	return err
}

// closeStdin gives the process EOF on stdin (StdinOnce). A terminal's stdin
// is the terminal itself and stays open.
func (cio *containerIO) closeStdin() {
	if cio.pty == nil {
		cio.closeStdinFile()
	}
}

func (cio *containerIO) closeStdinFile() {
	if cio.stdin == nil {
		return
	}
	cio.stdinOnce.Do(func() {
		cio.stdinClosed.Store(true)
		cio.stdin.Close()
	})
}

// finish is called once the process has exited: it lets its output drain,
// ends every attached client's stream and closes the log.
func (cio *containerIO) finish() {
	drain(&cio.pumps, cio.sources, cio.aborts()...)
	cio.end()
}

// detach is called once the runtime has let go of a task that runs on
// (released): the copies stop now, and what the task writes next waits in
// its shim's pipes for the next fake-cri.
func (cio *containerIO) detach() {
	for _, src := range cio.sources {
		src.Close()
	}
	for _, abort := range cio.aborts() {
		abort()
	}
	cio.pumps.Wait()
	cio.end()
}

func (cio *containerIO) aborts() []func() {
	aborts := []func(){cio.stdout.abort}
	if cio.stderr != nil {
		aborts = append(aborts, cio.stderr.abort)
	}
	return aborts
}

// end ends every attached client's stream and closes the log and the
// runtime's ends of the stdio.
func (cio *containerIO) end() {
	cio.stdout.close()
	if cio.stderr != nil {
		cio.stderr.close()
	}
	if cio.log != nil {
		cio.log.Close()
	}
	cio.closeStdinFile()
	for _, src := range cio.sources {
		src.Close()
	}
}

// drain waits for the copies of a finished process's output to reach EOF.
// Past outputDrainTimeout it cuts them short: reads end, and so do writes
// blocked on a lagging client (aborts).
func drain(pumps *sync.WaitGroup, sources []io.ReadCloser, aborts ...func()) {
	done := make(chan struct{})
	go func() {
		pumps.Wait()
		close(done)
	}()
	timer := time.NewTimer(outputDrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
		return
	case <-timer.C:
	}
	for _, src := range sources {
		if f, ok := src.(interface{ SetReadDeadline(time.Time) error }); !ok || f.SetReadDeadline(time.Now()) != nil {
			src.Close()
		}
	}
	for _, abort := range aborts {
		abort()
	}
	<-done
}
