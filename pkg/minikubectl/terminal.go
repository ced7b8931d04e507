package minikubectl

import (
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"
	"k8s.io/client-go/tools/remotecommand"
)

// terminal is the local end of an exec or attach session, as kubectl's
// term.TTY (kubectl/pkg/util/term/term.go): the input sent to the container,
// the output it writes to, and whether the input is put in raw mode so that
// keystrokes (Ctrl-C included) go to the remote terminal unchanged.
type terminal struct {
	in  io.Reader
	out io.Writer
	raw bool
}

// ttyFile is a file that is a terminal. Its descriptor is reached through
// RawConn.Control rather than Fd, which would switch the file to blocking
// mode for good: a read blocked in the kernel could then never be undone
// by closing the file, and the goroutine client-go copies stdin with would
// outlive the session when a caller hands in a terminal of its own.
type ttyFile struct {
	rc syscall.RawConn
}

// ttyOf returns v as a terminal, if it is one.
func ttyOf(v any) (*ttyFile, bool) {
	sc, ok := v.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	isTerminal := false
	if err := rc.Control(func(fd uintptr) { isTerminal = term.IsTerminal(int(fd)) }); err != nil || !isTerminal {
		return nil, false
	}
	return &ttyFile{rc: rc}, true
}

// size is the terminal's size, or nil if it cannot be read.
func (f *ttyFile) size() *remotecommand.TerminalSize {
	var size *remotecommand.TerminalSize
	f.rc.Control(func(fd uintptr) {
		if width, height, err := term.GetSize(int(fd)); err == nil {
			size = &remotecommand.TerminalSize{Width: uint16(width), Height: uint16(height)}
		}
	})
	return size
}

// makeRaw puts the terminal in raw mode and returns how to undo it.
func (f *ttyFile) makeRaw() (restore func(), err error) {
	var state *term.State
	if cerr := f.rc.Control(func(fd uintptr) { state, err = term.MakeRaw(int(fd)) }); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	return func() { f.rc.Control(func(fd uintptr) { term.Restore(int(fd), state) }) }, nil
}

// size is the output terminal's size, or nil if the output is not one.
func (t terminal) size() *remotecommand.TerminalSize {
	out, ok := ttyOf(t.out)
	if !ok {
		return nil
	}
	return out.size()
}

// safe runs fn with the input in raw mode and puts the terminal back as it
// was afterwards, however fn ends (TTY.Safe).
func (t terminal) safe(fn func() error) error {
	in, ok := ttyOf(t.in)
	if !t.raw || !ok {
		return fn()
	}
	restore, err := in.makeRaw()
	if err != nil {
		return err
	}
	defer restore()
	return fn()
}

// monitorSize returns a size queue primed with initial sizes that then
// follows SIGWINCH, or nil when the output is not a terminal
// (TTY.MonitorSize, kubectl/pkg/util/term/resize.go). Stop it when the
// session ends.
func (t terminal) monitorSize(initial ...*remotecommand.TerminalSize) *sizeQueue {
	out, ok := ttyOf(t.out)
	if !ok {
		return nil
	}
	q := &sizeQueue{
		// Room for the initial sizes, so priming never blocks.
		resize: make(chan remotecommand.TerminalSize, max(1, len(initial))),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	for _, s := range initial {
		if s != nil {
			q.resize <- *s
		}
	}
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		defer close(q.done)
		defer signal.Stop(winch)
		for {
			select {
			case <-winch:
				s := out.size()
				if s == nil {
					continue
				}
				// A size nobody has taken yet is stale: drop the new one
				// rather than block, as kubectl does.
				select {
				case q.resize <- *s:
				default:
				}
			case <-q.stop:
				return
			}
		}
	}()
	return q
}

// sizeQueue is a remotecommand.TerminalSizeQueue: client-go calls Next in a
// loop and sends each size on the resize stream.
type sizeQueue struct {
	resize chan remotecommand.TerminalSize
	stop   chan struct{}
	done   chan struct{}
}

var _ remotecommand.TerminalSizeQueue = (*sizeQueue)(nil)

// Next blocks until the terminal is resized; nil ends client-go's resize loop.
func (q *sizeQueue) Next() *remotecommand.TerminalSize {
	select {
	case <-q.stop:
		return nil
	default:
	}
	select {
	case s := <-q.resize:
		return &s
	case <-q.stop:
		return nil
	}
}

// Stop ends the SIGWINCH watch and releases client-go's resize loop, which
// kubectl leaves blocked until the process exits.
func (q *sizeQueue) Stop() {
	close(q.stop)
	<-q.done
}
