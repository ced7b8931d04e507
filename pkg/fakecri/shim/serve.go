package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/execlab/execlab/internal/procs"
)

// InvokedEnv is set in the environment of the shim's own processes, so that
// a binary that is more than the shim (a test binary standing in for it)
// can tell it is to run Main.
const InvokedEnv = "EXECLAB_FAKECRI_SHIM"

// Main runs the shim: args are the program's name, then "start" or "serve",
// then the shim's directory. It returns the exit code.
func Main(args []string) int {
	if len(args) != 3 || (args[1] != "start" && args[1] != "serve") {
		fmt.Fprintln(os.Stderr, "usage: fake-cri-shim start|serve DIR")
		return 2
	}
	var err error
	if args[1] == "start" {
		err = start(args[2])
	} else {
		err = serve(args[2])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "fake-cri-shim %s: %v\n", args[1], err)
		return 1
	}
	return 0
}

// start runs `serve` in a session of its own, its stdout the report's
// pipe, and leaves it: once start has exited, the shim is init's child, and
// nobody's wait depends on it.
func start(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", dir)
	cmd.Env = os.Environ()
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	return cmd.Start()
}

// server is the serving shim: one process, and the client connected now.
type server struct {
	spec     Spec
	log      *slog.Logger
	sessions procs.Sessions
	cmd      *exec.Cmd
	pid      int
	// The shim's copies of the process's stdio: the client's are dups.
	stdin  *os.File // nil when closed or never asked for
	stdout *os.File // the terminal's master with a TTY
	stderr *os.File // nil with a TTY

	mu     sync.Mutex
	conn   *net.UnixConn // the client now, nil when none
	exit   *Exit
	exited chan struct{} // closed once exit is set
}

// serve starts the process, reports its PID (or why it could not start) on
// stdout and serves clients until one says Shutdown.
func serve(dir string) (err error) {
	// Until the report, an error is the report (start's reader waits for it).
	defer func() {
		if err != nil {
			fmt.Printf("error: %v\n", err)
		}
	}()
	s := &server{log: slog.New(slog.NewTextHandler(os.Stderr, nil)).With("shim", dir), exited: make(chan struct{})}
	if err = readJSON(filepath.Join(dir, specFile), &s.spec); err != nil {
		return err
	}
	s.sessions = procs.Sessions(s.spec.Sessions)
	path, closeDir, err := socketPath(dir)
	if err != nil {
		return err
	}
	defer closeDir()
	os.Remove(path) // a socket left by a shim that was killed
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		return err
	}
	defer l.Close() // removes the socket
	if err = s.sessions.Record(os.Getpid()); err != nil {
		return err
	}
	defer s.sessions.Forget(os.Getpid())
	if err = s.startProcess(); err != nil {
		return err
	}
	fmt.Printf("ok %d\n", s.pid)
	os.Stdout.Close()
	go s.reap()
	done := make(chan struct{})
	go s.accept(l, done)
	<-done
	return nil
}

// startProcess starts the process in a session of its own, which dies with
// the shim (Pdeathsig), and records its session.
func (s *server) startProcess() error {
	sp := s.spec
	s.cmd = &exec.Cmd{
		Path:        sp.Path,
		Args:        sp.Args,
		Env:         sp.Env,
		Dir:         sp.Dir,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true, Pdeathsig: syscall.SIGKILL},
	}
	var childEnds []io.Closer
	defer func() {
		for _, c := range childEnds {
			c.Close()
		}
	}()
	if sp.TTY {
		master, slave, err := pty.Open()
		if err != nil {
			return fmt.Errorf("open pty: %w", err)
		}
		childEnds = append(childEnds, slave)
		if sp.Rows != 0 || sp.Cols != 0 {
			if err := pty.Setsize(master, &pty.Winsize{Rows: sp.Rows, Cols: sp.Cols}); err != nil {
				master.Close()
				return fmt.Errorf("set terminal size: %w", err)
			}
		}
		s.stdout = master
		s.cmd.Stdin, s.cmd.Stdout, s.cmd.Stderr = slave, slave, slave
		s.cmd.SysProcAttr.Setctty = true
	} else {
		if sp.Stdin {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			childEnds = append(childEnds, r)
			s.cmd.Stdin, s.stdin = r, w
		}
		for _, out := range []struct {
			child  *io.Writer
			parent **os.File
		}{{&s.cmd.Stdout, &s.stdout}, {&s.cmd.Stderr, &s.stderr}} {
			r, w, err := os.Pipe()
			if err != nil {
				return err
			}
			childEnds = append(childEnds, w)
			*out.child, *out.parent = w, r
		}
	}
	if err := s.cmd.Start(); err != nil {
		return err
	}
	s.pid = s.cmd.Process.Pid
	if err := s.sessions.Record(s.pid); err != nil {
		procs.KillSession(s.pid)
		s.cmd.Wait()
		return err
	}
	return nil
}

// reap waits until the process exits, kills what is left of its session,
// reaps it and tells the client.
func (s *server) reap() {
	procs.WaitExited(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	procs.KillSession(s.pid)
	s.sessions.Forget(s.pid)
	s.cmd.Wait()
	s.exit = &Exit{Code: procs.ExitCode(s.cmd.ProcessState), FinishedAt: time.Now().UnixNano()}
	close(s.exited)
	s.log.Info("process exited", "pid", s.pid, "code", s.exit.Code)
	if s.conn != nil {
		s.send(s.conn, state{PID: s.pid, Exit: s.exit}, nil)
	}
}

// accept serves each client that connects, the last one only: a fake-cri
// that restarted connects again while the old connection may linger.
func (s *server) accept(l *net.UnixListener, done chan<- struct{}) {
	for {
		conn, err := l.AcceptUnix()
		if err != nil {
			// Closed at the end of serve; anything else leaves the shim
			// to the client it has, or to the stack's down.
			s.log.Error("accept", "err", err)
			return
		}
		if s.hello(conn) {
			go s.serveClient(conn, done)
		}
	}
}

// hello tells a new client the process's state, with its stdio, and makes
// it the client.
func (s *server) hello(conn *net.UnixConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := state{PID: s.pid, TTY: s.spec.TTY, Stdin: s.stdin != nil, Exit: s.exit}
	var fds []int
	for _, f := range []*os.File{s.stdin, s.stdout, s.stderr} {
		if f != nil {
			fds = append(fds, rawFD(f))
		}
	}
	if !s.send(conn, st, fds) {
		conn.Close()
		return false
	}
	if s.conn != nil {
		s.conn.Close()
	}
	s.conn = conn
	return true
}

// send writes one message, with the descriptors fds. s.mu is held.
func (s *server) send(conn *net.UnixConn, st state, fds []int) bool {
	b, _ := json.Marshal(st)
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := conn.WriteMsgUnix(b, oob, nil); err != nil {
		s.log.Warn("client gone", "err", err)
		return false
	}
	return true
}

// serveClient does what the client asks until it goes away, or until it
// asks Shutdown: then the process is killed if it still runs, and done is
// closed once it has been reaped.
func (s *server) serveClient(conn *net.UnixConn, done chan<- struct{}) {
	buf := make([]byte, maxMessage)
	for {
		n, err := conn.Read(buf)
		if err != nil || n == 0 {
			s.mu.Lock()
			if s.conn == conn {
				s.conn = nil
			}
			s.mu.Unlock()
			conn.Close()
			return
		}
		var req request
		if err := json.Unmarshal(buf[:n], &req); err != nil {
			s.log.Warn("bad request", "err", err)
			continue
		}
		if req.Op == opShutdown {
			s.signal(-1)
			<-s.exited
			close(done)
			return
		}
		switch req.Op {
		case opSignal:
			s.signal(syscall.Signal(req.Signal))
		case opKill:
			s.signal(-1)
		case opCloseStdin:
			s.mu.Lock()
			if s.stdin != nil {
				s.stdin.Close()
				s.stdin = nil
			}
			s.mu.Unlock()
		default:
			s.log.Warn("unknown request", "op", req.Op)
		}
	}
}

// signal sends sig to the process's group, or SIGKILL to its whole session
// when sig is -1; nothing once it has been reaped, when its ID may be
// another's.
func (s *server) signal(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.exit != nil {
		return
	}
	if sig == -1 {
		procs.KillSession(s.pid)
		return
	}
	if err := unix.Kill(-s.pid, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		s.log.Warn("signal", "signal", sig, "err", err)
	}
}

// rawFD is f's descriptor. Unlike f.Fd, it leaves the file's mode alone:
// the client shares its file description and wants it non-blocking.
func rawFD(f *os.File) int {
	fd := -1
	if rc, err := f.SyscallConn(); err == nil {
		rc.Control(func(d uintptr) { fd = int(d) })
	}
	return fd
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
