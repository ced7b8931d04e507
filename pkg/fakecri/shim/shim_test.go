package shim

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/execlab/execlab/internal/procs"
)

// TestMain: run with InvokedEnv set, the test binary is the shim.
func TestMain(m *testing.M) {
	if os.Getenv(InvokedEnv) != "" {
		os.Exit(Main(os.Args))
	}
	os.Exit(m.Run())
}

// startShim starts a shim running sh -c script, in a directory whose path is
// longer than a unix socket's may be.
func startShim(t *testing.T, script string, tweak func(*Spec)) (*Client, string, procs.Sessions) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.Repeat("c", 64), strings.Repeat("d", 64))
	sessions := filepath.Join(t.TempDir(), "sessions")
	for _, d := range []string{dir, sessions} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	spec := Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: []string{"PATH=/usr/bin:/bin"}, Dir: dir, Sessions: sessions}
	if tweak != nil {
		tweak(&spec)
	}
	c, err := Start(testBinary(t), dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.Close()
		procs.Sessions(sessions).End()
	})
	return c, dir, procs.Sessions(sessions)
}

func testBinary(t *testing.T) string {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}

// readLine reads one line a byte at a time: a buffered reader would take
// what follows it too.
func readLine(t *testing.T, f *os.File) string {
	t.Helper()
	f.SetReadDeadline(time.Now().Add(10 * time.Second))
	var line []byte
	b := make([]byte, 1)
	for !bytes.HasSuffix(line, []byte("\n")) {
		if _, err := f.Read(b); err != nil {
			t.Fatalf("read %s: %q, %v", f.Name(), line, err)
		}
		line = append(line, b[0])
	}
	return string(line)
}

func closeStdio(c *Client) {
	for _, f := range []*os.File{c.Stdin, c.Stdout, c.Stderr} {
		if f != nil {
			f.Close()
		}
	}
}

func alive(pid int) bool { return unix.Kill(pid, 0) == nil }

// TestReconnect: a client that goes away leaves the process running, with
// what it wrote since kept for the next client, which gets its exit code;
// Shutdown then ends the shim and forgets both sessions.
func TestReconnect(t *testing.T) {
	c, dir, sessions := startShim(t, `echo out; echo err >&2; read a; echo "got $a"; read b; echo "then $b"; exit 3`, func(s *Spec) { s.Stdin = true })
	if got := readLine(t, c.Stdout); got != "out\n" {
		t.Errorf("stdout %q", got)
	}
	if got := readLine(t, c.Stderr); got != "err\n" {
		t.Errorf("stderr %q", got)
	}
	// Written to the process, answered while nobody is connected.
	if _, err := io.WriteString(c.Stdin, "one\n"); err != nil {
		t.Fatal(err)
	}
	closeStdio(c)
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close: %v, want ErrClosed", err)
	}
	pid := c.PID
	time.Sleep(100 * time.Millisecond)
	if !alive(pid) {
		t.Fatal("the process ended with its client")
	}

	c2, err := Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStdio(c2)
	if c2.PID != pid || c2.Stdin == nil || c2.Stderr == nil {
		t.Fatalf("reconnected: pid %d stdin %v stderr %v; want pid %d and both", c2.PID, c2.Stdin, c2.Stderr, pid)
	}
	if got := readLine(t, c2.Stdout); got != "got one\n" {
		t.Errorf("stdout kept while nobody was connected: %q, want %q", got, "got one\n")
	}
	io.WriteString(c2.Stdin, "two\n")
	if got := readLine(t, c2.Stdout); got != "then two\n" {
		t.Errorf("stdout %q", got)
	}
	exit, err := c2.Wait()
	if err != nil || exit.Code != 3 || exit.FinishedAt == 0 {
		t.Errorf("Wait: %+v, %v; want code 3", exit, err)
	}
	if _, err := c2.Stdout.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("stdout after the exit: %v, want EOF", err)
	}
	if err := c2.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, socketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket after Shutdown: %v", err)
	}
	waitEmpty(t, string(sessions))
}

// waitEmpty waits until the sessions directory records nothing: the shim
// forgets its own session as it ends.
func waitEmpty(t *testing.T, dir string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		entries, _ := os.ReadDir(dir)
		if len(entries) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions still recorded: %v", entries)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExitWhileAway: a process that ends while nobody is connected is
// reaped, its session killed, and the next client learns its exit code
// and reads its output to the end.
func TestExitWhileAway(t *testing.T) {
	c, dir, _ := startShim(t, `sleep 1000 & echo bye; exit 7`, nil)
	pid := c.PID
	closeStdio(c)
	c.Close()
	waitGone(t, pid)
	c2, err := Connect(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStdio(c2)
	exit, err := c2.Wait()
	if err != nil || exit.Code != 7 {
		t.Errorf("Wait: %+v, %v; want code 7", exit, err)
	}
	if got := readLine(t, c2.Stdout); got != "bye\n" {
		t.Errorf("stdout %q", got)
	}
	// SIGKILL is sure, not instant.
	var left []procs.Process
	for _, m := range procs.SessionMembers(map[int]bool{pid: true}) {
		left = append(left, procs.Process{PID: m})
	}
	if left = procs.WaitGone(left, 5*time.Second); len(left) > 0 {
		t.Errorf("left in the session: %v", left)
	}
	c2.Shutdown()
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	if left := procs.WaitGone([]procs.Process{{PID: pid}}, 10*time.Second); len(left) > 0 {
		t.Fatalf("process %d still running", pid)
	}
}

// TestSignalAndShutdown: Signal reaches the process's group, Kill ends it
// with 128+SIGKILL; Shutdown of a running process kills it first.
func TestSignalAndShutdown(t *testing.T) {
	c, _, sessions := startShim(t, `trap 'echo term; exit 9' TERM; echo ready; while :; do sleep 0.05; done`, nil)
	defer closeStdio(c)
	readLine(t, c.Stdout)
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, c.Stdout); got != "term\n" {
		t.Errorf("stdout %q", got)
	}
	if exit, err := c.Wait(); err != nil || exit.Code != 9 {
		t.Errorf("Wait: %+v, %v; want 9", exit, err)
	}
	c.Shutdown()
	waitEmpty(t, string(sessions))

	c, _, sessions = startShim(t, `sleep 1000`, nil)
	defer closeStdio(c)
	pid := c.PID
	if err := c.Shutdown(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	waitEmpty(t, string(sessions))

	c, _, _ = startShim(t, `sleep 1000`, nil)
	defer closeStdio(c)
	if err := c.Kill(); err != nil {
		t.Fatal(err)
	}
	if exit, err := c.Wait(); err != nil || exit.Code != 137 {
		t.Errorf("Wait after Kill: %+v, %v; want 137", exit, err)
	}
	c.Shutdown()
}

// TestShimKilled: the process dies with its shim, and the client hears.
func TestShimKilled(t *testing.T) {
	c, _, sessions := startShim(t, `echo ready; exec sleep 1000`, nil)
	defer closeStdio(c)
	readLine(t, c.Stdout)
	shimPID := otherSession(t, string(sessions), c.PID)
	unix.Kill(shimPID, unix.SIGKILL)
	if _, err := c.Wait(); err == nil || errors.Is(err, ErrClosed) {
		t.Errorf("Wait after the shim was killed: %v", err)
	}
	waitGone(t, c.PID)
}

// otherSession is the session recorded besides pid's: the shim's own.
func otherSession(t *testing.T, dir string, pid int) int {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if sid, err := strconv.Atoi(e.Name()); err == nil && sid != pid {
			return sid
		}
	}
	t.Fatalf("no shim session recorded in %s: %v", dir, entries)
	return 0
}

// TestTerminal: with a TTY the process has a terminal of the asked size,
// its stdin and stdout are the master, and stderr is none.
func TestTerminal(t *testing.T) {
	c, _, _ := startShim(t, `stty size; read a; echo "got $a"`, func(s *Spec) { s.TTY, s.Rows, s.Cols = true, 7, 13 })
	defer closeStdio(c)
	if c.Stderr != nil || c.Stdin != c.Stdout {
		t.Fatalf("stdio %v %v %v", c.Stdin, c.Stdout, c.Stderr)
	}
	if got := readLine(t, c.Stdout); got != "7 13\r\n" {
		t.Errorf("stty size: %q", got)
	}
	io.WriteString(c.Stdin, "x\n")
	readLine(t, c.Stdout) // the terminal's echo
	if got := readLine(t, c.Stdout); got != "got x\r\n" {
		t.Errorf("stdout %q", got)
	}
	if exit, err := c.Wait(); err != nil || exit.Code != 0 {
		t.Errorf("Wait: %+v, %v", exit, err)
	}
	c.Shutdown()
}

// TestStartError: a process that cannot start is reported, and no shim is
// left.
func TestStartError(t *testing.T) {
	dir, sessions := t.TempDir(), t.TempDir()
	_, err := Start(testBinary(t), dir, Spec{Path: "/nonexistent/x", Args: []string{"x"}, Dir: dir, Sessions: sessions})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x: no such file or directory") {
		t.Fatalf("Start: %v", err)
	}
	waitEmpty(t, sessions)
	if _, err := os.Stat(filepath.Join(dir, socketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket of a shim that could not start: %v", err)
	}
}
