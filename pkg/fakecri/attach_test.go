package fakecri

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/streaming"
)

// runCat runs a container whose main process is cat on stdin, as
// "kubectl run -i" makes one.
func (e *env) runCat(sb, pod, name string, stdinOnce, tty bool) string {
	e.t.Helper()
	cfg := containerConfig(pod, name, "cat")
	cfg.Stdin, cfg.StdinOnce, cfg.Tty = true, stdinOnce, tty
	id := e.create(sb, pod, cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// attach attaches with stdin from a pipe the test writes; done receives
// Attach's result.
func (e *env) attach(id string, tty bool) (stdin *io.PipeWriter, stdout, stderr *pipeStream, cancel func(), done chan error) {
	r, w := io.Pipe()
	stdout, stderr = newPipeStream(), newPipeStream()
	s := streaming.Streams{Stdin: r, Stdout: stdout, TTY: tty}
	if !tty {
		s.Stderr = stderr
	}
	actx, cancel := context.WithCancel(ctx)
	done = make(chan error, 1)
	go func() { done <- e.rt.Attach(actx, id, s) }()
	return w, stdout, stderr, cancel, done
}

func TestAttach(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")

	t.Run("detach at the end of stdin", func(t *testing.T) {
		id := e.runCat(sb, "p", "cat", false, false)
		stdin1, out1, _, cancel1, done1 := e.attach(id, false)
		defer cancel1()
		stdin2, out2, _, cancel2, done2 := e.attach(id, false)
		defer cancel2()
		waitAttached(t, e, id, 2)
		io.WriteString(stdin1, "from one\n")
		io.WriteString(stdin2, "from two\n")
		// Every client sees all the output, whoever typed it.
		for _, out := range []*pipeStream{out1, out2} {
			out.waitFor(t, "from one\n")
			out.waitFor(t, "from two\n")
		}
		stdin1.Close()
		if err := <-done1; err != nil || !out1.isClosed() {
			t.Errorf("attach ended with %v, stdout closed %v", err, out1.isClosed())
		}
		io.WriteString(stdin2, "still there\n")
		out2.waitFor(t, "still there\n")
		if strings.Contains(out1.String(), "still there") {
			t.Error("a detached client still gets output")
		}
		cancel2() // the client goes away
		if err := <-done2; err != nil {
			t.Error(err)
		}
		stdin2.Close()
		if st := e.status(id); st.State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("the container is %v after its clients left", st.State)
		}
		want := "from one\nfrom two\nstill there\n"
		if got := logContent(t, waitFile(t, e.logPath("p", "cat"), func(s string) bool { return strings.Count(s, "\n") == 3 })); !sameLines(got, want) {
			t.Errorf("log says %q, want the lines of %q", got, want)
		}
	})
	t.Run("stdin once", func(t *testing.T) {
		id := e.runCat(sb, "p", "once", true, false)
		stdin, out, stderr, cancel, done := e.attach(id, false)
		defer cancel()
		waitAttached(t, e, id, 1)
		io.WriteString(stdin, "only once\n")
		stdin.Close() // cat gets EOF and ends; so does the session
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if out.String() != "only once\n" || !out.isClosed() || !stderr.isClosed() {
			t.Errorf("stdout %q, closed %v; stderr closed %v", out, out.isClosed(), stderr.isClosed())
		}
		if st := e.waitExited(id); st.ExitCode != 0 {
			t.Errorf("cat exited %d", st.ExitCode)
		}
		_, _, _, cancel2, done2 := e.attach(id, false)
		defer cancel2()
		if err := <-done2; err == nil || err.Error() != "container is in CONTAINER_EXITED state" {
			t.Errorf("attach to an exited container: %v", err)
		}
	})
	t.Run("tty", func(t *testing.T) {
		id := e.runCat(sb, "p", "tty", true, true)
		stdin, out, _, cancel, done := e.attach(id, true)
		defer cancel()
		waitAttached(t, e, id, 1)
		io.WriteString(stdin, "typed\n")
		// The terminal echoes the line, then cat prints it.
		out.waitFor(t, "typed\r\ntyped\r\n")
		stdin.Close() // with a TTY, StdinOnce keeps the container's stdin open
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !out.isClosed() || e.status(id).State != runtimeapi.ContainerState_CONTAINER_RUNNING {
			t.Errorf("stdout closed %v, container %v", out.isClosed(), e.status(id).State)
		}
		if got := logContent(t, readFile(t, e.logPath("p", "tty"))); got != "typed\ntyped\n" {
			t.Errorf("log says %q", got)
		}
		if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("stuck client", func(t *testing.T) {
		// A client that stops reading holds the output up, not the
		// container's end.
		cfg := containerConfig("p", "yes", "yes")
		cfg.LogPath = "" // no log: the output floods the client's queue at once
		id := e.create(sb, "p", cfg)
		if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
			t.Fatal(err)
		}
		stuck := &stuckWriter{release: make(chan struct{}), closed: make(chan struct{})}
		actx, cancel := context.WithCancel(ctx)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- e.rt.Attach(actx, id, streaming.Streams{Stdout: stuck}) }()
		waitAttached(t, e, id, 1)
		waitQueueFull(t, e, id)
		if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Fatal(err)
		}
		if st := e.status(id); st.State != runtimeapi.ContainerState_CONTAINER_EXITED || st.ExitCode != 143 {
			t.Errorf("container %v, exit code %d", st.State, st.ExitCode)
		}
		cancel() // the session ends
		if err := <-done; err != nil {
			t.Error(err)
		}
		close(stuck.release)
		<-stuck.closed
	})
	t.Run("container exits", func(t *testing.T) {
		id := e.runCat(sb, "p", "ends", false, false)
		stdin, out, _, cancel, done := e.attach(id, false)
		defer cancel()
		defer stdin.Close() // the session's end closes the client's stdin
		waitAttached(t, e, id, 1)
		if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id, Timeout: 10}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil || !out.isClosed() {
			t.Errorf("attach ended with %v, stdout closed %v", err, out.isClosed())
		}
	})
}

// waitQueueFull waits until the only client of container id lags a whole
// queue behind.
func waitQueueFull(t *testing.T, e *env, id string) {
	t.Helper()
	c, _ := e.rt.getContainer(id)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		c.io.stdout.mu.Lock()
		full := false
		for s := range c.io.stdout.sinks {
			full = len(s.queue) == sinkQueue
		}
		c.io.stdout.mu.Unlock()
		if full {
			return
		}
	}
	t.Fatal("the client's queue never filled")
}

// waitAttached waits until n clients are attached to container id's stdout.
func waitAttached(t *testing.T, e *env, id string, n int) {
	t.Helper()
	c, _ := e.rt.getContainer(id)
	c.mu.Lock()
	b := c.io.stdout
	c.mu.Unlock()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b.mu.Lock()
		got := len(b.sinks)
		b.mu.Unlock()
		if got == n {
			return
		}
	}
	t.Fatalf("never %d clients attached", n)
}

// sameLines reports whether a and b hold the same lines in any order: two
// clients' input may reach cat in either order.
func sameLines(a, b string) bool {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(la)
	slices.Sort(lb)
	return slices.Equal(la, lb)
}
