package fakecri

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// An exec's stdio pipes carry a bulk transfer at the pace of the slower
// side. With the kernel's 64 KiB pipe, a command scheduled apart from
// fake-cri (its own session is its own scheduler autogroup) blocks on
// every 64 KiB, and every read is small. A pipe that has carried
// growPipeAfter bytes is a bulk transfer and grows to bulkPipeSize (the
// default /proc/sys/fs/pipe-max-size); an idle session's pipes stay small,
// for the pipe pages count against the user's pipe-user-pages-soft.
const (
	growPipeAfter = 1 << 20
	bulkPipeSize  = 1 << 20
	// pipeReadSize is the most one read of an output pipe takes: one frame
	// to the client.
	pipeReadSize = 256 << 10
)

// pipeBufs are the read buffers of output pipes, held only between a read
// that found data and the write of it: a session waiting for output holds
// none.
var pipeBufs = sync.Pool{New: func() any { b := make([]byte, pipeReadSize); return &b }}

// growPipe enlarges the pipe f to bulkPipeSize. Failing (EPERM over the
// user's pipe limit without CAP_SYS_RESOURCE) leaves it as it is: a
// slower transfer, not a wrong one.
func growPipe(fd uintptr) {
	_, _ = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, bulkPipeSize)
}

// watchedReader is the read end of an exec's output pipe, which says how
// long the read in progress, if any, has been waiting for data.
type watchedReader struct {
	r io.Reader
	// since is when the read in progress began (UnixNano); 0: none.
	since atomic.Int64
}

func (w *watchedReader) Read(p []byte) (int, error) {
	w.since.Store(time.Now().UnixNano())
	defer w.since.Store(0)
	return w.r.Read(p)
}

// WriteTo copies the pipe to dst (io.Copy calls it): reads of up to
// pipeReadSize into a pooled buffer taken once data is there, and the pipe
// grown once the transfer is a bulk one. A source that is not a pipe (a
// terminal) is copied as io.Copy would.
func (w *watchedReader) WriteTo(dst io.Writer) (int64, error) {
	f, ok := w.r.(*os.File)
	if !ok {
		return io.Copy(onlyWriter{dst}, onlyReader{w})
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("exec output pipe: %w", err)
	}
	var total int64
	grown := false
	for {
		var buf *[]byte
		var n int
		var rerr error
		w.since.Store(time.Now().UnixNano())
		err := rc.Read(func(fd uintptr) bool {
			if !grown && total >= growPipeAfter {
				grown = true
				growPipe(fd)
			}
			buf = pipeBufs.Get().(*[]byte)
			for {
				n, rerr = unix.Read(int(fd), *buf)
				if rerr != unix.EINTR {
					break
				}
			}
			if rerr == unix.EAGAIN {
				pipeBufs.Put(buf)
				buf = nil
				return false // wait for data without a buffer
			}
			return true
		})
		w.since.Store(0)
		switch {
		case err == nil && rerr != nil:
			err = os.NewSyscallError("read", rerr)
		case err == nil && n == 0:
			pipeBufs.Put(buf)
			return total, nil // EOF
		}
		if err != nil {
			if buf != nil {
				pipeBufs.Put(buf)
			}
			return total, err
		}
		wn, werr := dst.Write((*buf)[:n])
		pipeBufs.Put(buf)
		total += int64(wn)
		if werr == nil && wn < n {
			werr = io.ErrShortWrite
		}
		if werr != nil {
			return total, werr
		}
	}
}

// waiting is how long the read in progress has waited; 0 if none.
func (w *watchedReader) waiting() time.Duration {
	since := w.since.Load()
	if since == 0 {
		return 0
	}
	return time.Since(time.Unix(0, since))
}

// growingWriter is the write end of an exec's stdin pipe, grown once it
// has carried growPipeAfter bytes.
type growingWriter struct {
	f     *os.File
	moved int64
	grown bool
}

func (g *growingWriter) Write(b []byte) (int, error) {
	if !g.grown && g.moved >= growPipeAfter {
		g.grown = true
		if rc, err := g.f.SyscallConn(); err == nil {
			_ = rc.Control(growPipe)
		}
	}
	n, err := g.f.Write(b)
	g.moved += int64(n)
	return n, err
}

// onlyReader and onlyWriter hide a type's WriteTo and ReadFrom from
// io.Copy.
type onlyReader struct{ io.Reader }
type onlyWriter struct{ io.Writer }
