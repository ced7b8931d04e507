package labs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// StepTimeout bounds one command; a lab that waits for a token to expire
// waits a minute.
const StepTimeout = 3 * time.Minute

// doneMark is what the session prints after each command, with its exit
// code; the command's own output goes to a file.
const doneMark = "__execlab_lab_done "

// Session is one bash process that runs a page's commands in order, so
// that variables and background jobs carry over from one to the next.
type Session struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	marks  *bufio.Reader
	tmp    string
	n      int
	exited chan struct{}
}

// NewSession starts bash in dir with env (added to this process's).
func NewSession(dir string, env []string) (*Session, error) {
	tmp, err := os.MkdirTemp("", "execlab-lab-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command("bash", "--noprofile", "--norc")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// Its own process group: Close ends the background jobs too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start bash: %w", err)
	}
	s := &Session{cmd: cmd, stdin: stdin, marks: bufio.NewReader(stdout), tmp: tmp, exited: make(chan struct{})}
	return s, nil
}

// Run runs one command and returns what it printed, stdout and stderr
// together, and its exit code.
func (s *Session) Run(command string) (string, int, error) {
	s.n++
	out := filepath.Join(s.tmp, "out."+strconv.Itoa(s.n))
	script := fmt.Sprintf("{ %s\n} >%q 2>&1 </dev/null\necho \"%s$?\"\n", command, out, doneMark)
	if _, err := io.WriteString(s.stdin, script); err != nil {
		return "", 0, fmt.Errorf("the session ended: %w", err)
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		for {
			line, err := s.marks.ReadString('\n')
			if err != nil {
				done <- result{0, errors.New("the session ended before the command did")}
				return
			}
			if rest, ok := strings.CutPrefix(line, doneMark); ok {
				code, _ := strconv.Atoi(strings.TrimSpace(rest))
				done <- result{code, nil}
				return
			}
		}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(StepTimeout):
		s.Close()
		<-done
		r.err = fmt.Errorf("the command did not end within %v", StepTimeout)
	}
	b, _ := os.ReadFile(out)
	return string(b), r.code, r.err
}

// Close ends the session and every process it started.
func (s *Session) Close() error {
	_ = s.stdin.Close()
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	return os.RemoveAll(s.tmp)
}

// RunPage runs the page's steps in order in a new session and stops at the
// first whose output is not what the page shows. Each command and its
// output are written to log as they run.
func RunPage(ctx context.Context, p *Page, dir string, env []string, log io.Writer) error {
	s, err := NewSession(dir, env)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, st := range p.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		fmt.Fprintf(log, "$ %s\n", st.Command)
		out, _, err := s.Run(st.Command)
		io.WriteString(log, out)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", p.Path, st.Line, err)
		}
		if err := Match(st.Output, dropKnownClientNoise(out)); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", p.Path, st.Line, st.Command, err)
		}
	}
	return nil
}

// unknownStream is the line kubectl 1.32 and 1.33 log when the server's
// first WebSocket message (the empty one that says the session is up, as
// kube-apiserver sends it) comes before their client-go has made its
// streams: it starts reading first. Fixed in client-go 1.34
// (kubernetes/kubernetes#131203); only under load, and harmless for that
// empty message. Output sent in the same instant is dropped too, so the
// labs whose output matters (9, 11) have their command wait a second.
var unknownStream = regexp.MustCompile(`(?m)^E\d{4} [0-9:.]+ +\d+ websocket\.go:\d+\] Unknown stream id \d+, discarding message\n`)

// dropKnownClientNoise takes out of a command's output the lines a client
// logs because of its own known defects, which no page can show.
func dropKnownClientNoise(out string) string {
	return unknownStream.ReplaceAllString(out, "")
}
