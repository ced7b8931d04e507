package fakecri

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// maxLogLineSize is where a long line is cut into partial records: containerd's
// default max_container_log_line_size.
const maxLogLineSize = 16 * 1024

// logTimeFormat is RFC 3339 with a fixed nine-digit fraction. containerd writes
// time.RFC3339Nano in local time; readers parse either, and a fixed width
// keeps kubectl logs --timestamps aligned.
const logTimeFormat = "2006-01-02T15:04:05.000000000Z07:00"

// logFile is a container's CRI log file, shared by its stdout and stderr
// writers. Records are written whole, so they never interleave.
type logFile struct {
	path string

	mu sync.Mutex
	f  *os.File
}

// openLogFile creates the log directory if needed and opens path for
// appending, as containerd's openLogFile does.
func openLogFile(path string) (*logFile, error) {
	f, err := createLog(path)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, f: f}, nil
}

func createLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log directory: %w", err)
	}
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return 0, os.ErrClosed
	}
	return l.f.Write(p)
}

// reopen starts a new file at the same path, after the kubelet rotated the
// old one away (ReopenContainerLog).
func (l *logFile) reopen() error {
	f, err := createLog(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		f.Close()
		return os.ErrClosed
	}
	l.f.Close()
	l.f = f
	return nil
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// lineWriter turns one output stream into CRI log records:
//
//	2026-01-02T03:04:05.123456789Z stdout F a whole line
//	2026-01-02T03:04:05.123456789Z stdout P the first 16 KiB of a longer line
//
// It mirrors containerd's redirectLogs (internal/cri/io/logger.go): "\r\n"
// and "\n" end a full line, a line longer than maxLen is cut into partial
// records of maxLen bytes, and what is left unterminated at Close is a
// partial record.
type lineWriter struct {
	out    io.Writer
	stream runtimeapi.LogStreamType
	maxLen int
	now    func() time.Time

	buf     []byte // the current line's bytes not yet written out
	records []byte // the records of one Write, written out at once
}

func newLineWriter(out io.Writer, stream runtimeapi.LogStreamType) *lineWriter {
	return &lineWriter{out: out, stream: stream, maxLen: maxLogLineSize, now: time.Now}
}

// Write never fails: like containerd, a log that cannot be written must not
// stop the container's output from draining.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	rest := w.buf
	for {
		if i := bytes.IndexByte(rest, '\n'); i >= 0 {
			if line := bytes.TrimSuffix(rest[:i], []byte{'\r'}); len(line) <= w.maxLen {
				w.emit(runtimeapi.LogTagFull, line)
				rest = rest[i+1:]
				continue
			}
		} else if contentLen(rest) <= w.maxLen {
			break
		}
		w.emit(runtimeapi.LogTagPartial, rest[:w.maxLen])
		rest = rest[w.maxLen:]
	}
	w.buf = w.buf[:copy(w.buf, rest)]
	w.flush()
	return len(p), nil
}

// contentLen is how many bytes of an unterminated line are surely content:
// a trailing '\r' may yet turn out to be half of a "\r\n".
func contentLen(b []byte) int {
	if n := len(b); n > 0 && b[n-1] == '\r' {
		return n - 1
	}
	return len(b)
}

// Close writes what is left as partial records.
func (w *lineWriter) Close() error {
	for rest := w.buf; len(rest) > 0; {
		n := min(len(rest), w.maxLen)
		w.emit(runtimeapi.LogTagPartial, rest[:n])
		rest = rest[n:]
	}
	w.buf = w.buf[:0]
	w.flush()
	return nil
}

func (w *lineWriter) emit(tag runtimeapi.LogTag, line []byte) {
	r := w.now().UTC().AppendFormat(w.records, logTimeFormat)
	r = append(r, ' ')
	r = append(r, w.stream...)
	r = append(r, ' ')
	r = append(r, tag...)
	r = append(r, ' ')
	r = append(r, line...)
	w.records = append(r, '\n')
	if len(w.records) >= maxLogLineSize*4 {
		w.flush()
	}
}

// flush writes the records of one Write in one go: containerd writes each
// record alone, which costs a system call a line.
func (w *lineWriter) flush() {
	if len(w.records) > 0 {
		w.out.Write(w.records)
		w.records = w.records[:0]
	}
}
