package shim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Spec is the process a shim runs: what an OCI spec's process section says
// to runc, on the host.
type Spec struct {
	Path string   `json:"path"` // the executable, found already
	Args []string `json:"args"`
	Env  []string `json:"env"` // complete: nothing is inherited
	Dir  string   `json:"dir"`
	// TTY gives the process a terminal, first Rows × Cols when not zero.
	TTY  bool   `json:"tty,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Stdin keeps a pipe to the process's stdin; without it (and without a
	// TTY) stdin is /dev/null.
	Stdin bool `json:"stdin,omitempty"`
	// Sessions is the directory (procs.Sessions) where the shim records its
	// own session and the process's while they live.
	Sessions string `json:"sessions"`
}

// ErrClosed is what Wait returns once the client is closed: the process
// runs on, and a new client can connect.
var ErrClosed = errors.New("shim: client closed")

// Start starts a shim in dir, its state directory, for the process spec
// describes, and connects to it. The shim's own errors go to dir/shim.log.
func Start(binary, dir string, spec Spec) (*Client, error) {
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, specFile), b, 0o644); err != nil {
		return nil, err
	}
	log, err := os.OpenFile(filepath.Join(dir, logFile), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer log.Close()
	cmd := exec.Command(binary, "start", dir)
	cmd.Env = append(os.Environ(), InvokedEnv+"=1")
	cmd.Stderr = log
	// Output returns once `start` has exited and `serve` has closed its
	// stdout, after its report.
	out, err := cmd.Output()
	report := string(bytes.TrimSpace(out))
	if msg, ok := strings.CutPrefix(report, "error: "); ok {
		return nil, errors.New(msg)
	}
	if err != nil || !strings.HasPrefix(report, "ok ") {
		return nil, fmt.Errorf("shim %s: %v, report %q (see %s)", binary, err, report, filepath.Join(dir, logFile))
	}
	return Connect(dir)
}

// Client is a connection to a shim: the process's stdio, and what can be
// asked of the shim. The stdio files are the caller's to close.
type Client struct {
	PID int
	TTY bool
	// The process's stdio, non-blocking: the write end of its stdin (nil
	// when it has none or it was closed), the read ends of its stdout and
	// stderr, or with a TTY the terminal's master as Stdin and Stdout.
	Stdin, Stdout, Stderr *os.File

	conn    *net.UnixConn
	mu      sync.Mutex
	exit    *Exit
	exited  chan struct{} // closed once exit is known
	lost    chan struct{} // closed once the connection has ended
	closing bool          // Close or Shutdown was called
}

// Connect connects to the shim in dir.
func Connect(dir string) (*Client, error) {
	path, closeDir, err := socketPath(dir)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	closeDir()
	if err != nil {
		return nil, fmt.Errorf("connect to shim in %s: %w", dir, err)
	}
	c := &Client{conn: conn, exited: make(chan struct{}), lost: make(chan struct{})}
	if err := c.hello(); err != nil {
		conn.Close()
		return nil, fmt.Errorf("connect to shim in %s: %w", dir, err)
	}
	go c.read()
	return c, nil
}

// hello reads the shim's first message and the stdio that comes with it.
func (c *Client) hello() error {
	buf := make([]byte, maxMessage)
	oob := make([]byte, unix.CmsgSpace(3*4))
	n, oobn, _, _, err := c.conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return err
	}
	var files []*os.File
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			fds, err := unix.ParseUnixRights(&m)
			if err != nil {
				return err
			}
			for _, fd := range fds {
				unix.CloseOnExec(fd)
				unix.SetNonblock(fd, true) // served by the runtime poller
				files = append(files, os.NewFile(uintptr(fd), "shim-stdio-"+strconv.Itoa(fd)))
			}
		}
	}
	var st state
	if err := json.Unmarshal(buf[:n], &st); err != nil {
		closeAll(files)
		return err
	}
	want := 2 // stdout and stderr
	if st.TTY {
		want = 1
	} else if st.Stdin {
		want = 3
	}
	if len(files) != want {
		closeAll(files)
		return fmt.Errorf("got %d descriptors, want %d", len(files), want)
	}
	c.PID, c.TTY = st.PID, st.TTY
	switch {
	case st.TTY:
		c.Stdin, c.Stdout = files[0], files[0]
	case st.Stdin:
		c.Stdin, c.Stdout, c.Stderr = files[0], files[1], files[2]
	default:
		c.Stdout, c.Stderr = files[0], files[1]
	}
	if st.Exit != nil {
		c.exit = st.Exit
		close(c.exited)
	}
	return nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// read takes the shim's later messages (the exit) until the connection ends.
func (c *Client) read() {
	defer close(c.lost)
	buf := make([]byte, maxMessage)
	for {
		n, err := c.conn.Read(buf)
		if err != nil || n == 0 {
			return
		}
		var st state
		if json.Unmarshal(buf[:n], &st) != nil || st.Exit == nil {
			continue
		}
		c.mu.Lock()
		if c.exit == nil {
			c.exit = st.Exit
			close(c.exited)
		}
		c.mu.Unlock()
	}
}

// Wait blocks until the process has exited and returns how. It fails with
// ErrClosed once the client is closed, or with another error when the
// shim is gone without saying (killed: so is the process, Pdeathsig).
func (c *Client) Wait() (Exit, error) {
	select {
	case <-c.exited:
		return *c.exit, nil
	case <-c.lost:
	}
	select {
	case <-c.exited: // said just before the end
		return *c.exit, nil
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return Exit{}, ErrClosed
	}
	return Exit{}, fmt.Errorf("shim of process %d gone", c.PID)
}

// Signal sends sig to the process's group; nothing once it has exited.
func (c *Client) Signal(sig syscall.Signal) error {
	return c.ask(request{Op: opSignal, Signal: int(sig)})
}

// Kill sends SIGKILL to the process's whole session.
func (c *Client) Kill() error { return c.ask(request{Op: opKill}) }

// CloseStdin closes the shim's copy of the process's stdin: the process
// reads EOF once the client has closed Stdin too.
func (c *Client) CloseStdin() error { return c.ask(request{Op: opCloseStdin}) }

// Close lets go of the shim, which keeps the process running for the next
// client. The stdio files stay open.
func (c *Client) Close() error {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	err := c.conn.Close()
	<-c.lost
	return err
}

// Shutdown ends the shim once the process has exited, killing it first if
// it still runs (a task's delete), and waits until the shim has let go of
// it.
func (c *Client) Shutdown() error {
	c.mu.Lock()
	c.closing = true
	c.mu.Unlock()
	err := c.ask(request{Op: opShutdown})
	<-c.lost
	c.conn.Close()
	return err
}

func (c *Client) ask(r request) error {
	b, _ := json.Marshal(r)
	if _, err := c.conn.Write(b); err != nil {
		return fmt.Errorf("shim of process %d: %w", c.PID, err)
	}
	return nil
}
