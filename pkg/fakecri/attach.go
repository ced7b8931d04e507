package fakecri

import (
	"context"
	"fmt"
	"io"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/execlab/execlab/pkg/streaming"
)

// Attach connects a client to a running container's main process, for
// pkg/streaming, as containerd's ContainerIO.Attach: the client receives the
// output from now on (no history) alongside the log and any other client,
// and its stdin feeds the process when Config.Stdin is set.
//
// The session ends when the container's output ends, when ctx ends, or when
// the client's stdin ends. At the end of stdin a container with StdinOnce and
// no TTY gets EOF on its stdin and the session lasts until its output ends;
// otherwise the client is detached and the container runs on. The client's
// stdin is read until it ends, which the streaming server's end of the
// session makes sure of; what is read after Attach returned is dropped.
func (rt *Runtime) Attach(ctx context.Context, containerID string, s streaming.Streams) error {
	c, err := rt.getContainer(containerID)
	if err != nil {
		return fmt.Errorf("failed to find container %q in store: %w", containerID, err)
	}
	c.mu.Lock()
	state, cio := c.stateLocked(), c.io
	c.mu.Unlock()
	if state != runtimeapi.ContainerState_CONTAINER_RUNNING {
		closeAll(s.Stdout, s.Stderr)
		return fmt.Errorf("container is in %s state", state)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tty := c.config.GetTty()

	var sinks []*sink
	for _, out := range []struct {
		w io.WriteCloser
		b *broadcaster
	}{{s.Stdout, cio.stdout}, {s.Stderr, cio.stderr}} {
		switch {
		case out.w == nil:
		case out.b == nil: // stderr of a container with a TTY
			defer out.w.Close()
		default:
			sk := out.b.add(out.w)
			sinks = append(sinks, sk)
			defer func() {
				out.b.remove(sk)
				// The client's stream ends once it has what was queued
				// for it, unless the client has gone.
				select {
				case <-sk.done:
				case <-ctx.Done():
				}
			}()
		}
	}
	var outputEnded <-chan struct{} = c.exited
	if len(sinks) > 0 {
		outputEnded = allDone(sinks)
	}
	if tty && cio.pty != nil {
		go resizeLoop(ctx.Done(), s.Resize, cio.pty)
	}
	var stdinEnded chan struct{}
	if s.Stdin != nil && c.config.GetStdin() && cio.stdin != nil {
		stdinEnded = make(chan struct{})
		go func() {
			defer close(stdinEnded)
			copyStdin(ctx, cio, s.Stdin)
		}()
	}

	select {
	case <-outputEnded:
	case <-ctx.Done():
	case <-stdinEnded:
		if !c.config.GetStdinOnce() || tty {
			return nil // detach
		}
		cio.closeStdin()
		select {
		case <-outputEnded:
		case <-ctx.Done():
		}
	}
	return nil
}

// copyStdin feeds what the client types to the container until the client's
// stdin ends or the session does: input read after that is dropped, not
// given to a process the client has left.
func copyStdin(ctx context.Context, cio *containerIO, r io.Reader) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if ctx.Err() != nil {
			return
		}
		if n > 0 && cio.writeStdin(buf[:n]) != nil {
			return
		}
		if err != nil {
			return
		}
	}
}

// allDone returns a channel closed once every sink is done.
func allDone(sinks []*sink) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		for _, s := range sinks {
			<-s.done
		}
		close(done)
	}()
	return done
}

func closeAll(cs ...io.Closer) {
	for _, c := range cs {
		if c != nil {
			c.Close()
		}
	}
}
