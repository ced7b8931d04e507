package logs

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	v1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

const (
	// TimeFormatOut is how timestamps are written: RFC 3339 with fixed-width
	// nanoseconds (upstream types.RFC3339NanoFixed).
	TimeFormatOut = "2006-01-02T15:04:05.000000000Z07:00"
	// timeFormatIn parses the variable-width form (types.RFC3339NanoLenient).
	timeFormatIn = "2006-01-02T15:04:05.999999999Z07:00"

	// stateCheckPeriod bounds how long a follower waits before asking the
	// runtime again whether the container still runs.
	stateCheckPeriod = time.Second
	// pollPeriod is how often a follower looks for new bytes. Upstream uses
	// fsnotify plus a 1 s forced re-read; polling the size is enough here.
	pollPeriod = 100 * time.Millisecond
)

// Options is the reader's view of v1.PodLogOptions.
type Options struct {
	// Tail is the number of file lines to start from the end; -1 reads all.
	Tail int64
	// Bytes caps the output; -1 is unlimited.
	Bytes int64
	// Since skips lines logged before it.
	Since time.Time
	// Follow keeps reading while the container runs.
	Follow bool
	// Timestamps prefixes each line with its RFC3339Nano timestamp and a space.
	Timestamps bool
}

// NewOptions converts the API options, resolving sinceSeconds against now,
// as upstream NewLogOptions does.
func NewOptions(apiOpts *v1.PodLogOptions, now time.Time) *Options {
	opts := &Options{
		Tail:       -1,
		Bytes:      -1,
		Follow:     apiOpts.Follow,
		Timestamps: apiOpts.Timestamps,
	}
	if apiOpts.TailLines != nil {
		opts.Tail = *apiOpts.TailLines
	}
	if apiOpts.LimitBytes != nil {
		opts.Bytes = *apiOpts.LimitBytes
	}
	if apiOpts.SinceSeconds != nil {
		opts.Since = now.Add(-time.Duration(*apiOpts.SinceSeconds) * time.Second)
	}
	if apiOpts.SinceTime != nil && apiOpts.SinceTime.After(opts.Since) {
		opts.Since = apiOpts.SinceTime.Time
	}
	return opts
}

// RunningFunc reports whether the container still runs. A follower stops at
// the end of the file once it answers false.
type RunningFunc func(ctx context.Context) (bool, error)

// ReadLogs copies the log file at path to stdout and stderr by stream,
// applying opts. When following, it returns once the container has stopped
// and the file is drained, or with ctx's error when ctx ends.
func ReadLogs(ctx context.Context, path string, opts *Options, running RunningFunc, stdout, stderr io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("failed to open log file %q: %w", path, err)
	}
	defer f.Close()

	start, err := FindTailLineStartIndex(f, opts.Tail)
	if err != nil {
		return fmt.Errorf("failed to tail %d lines of log file %q: %w", opts.Tail, path, err)
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("failed to seek %d in log file %q: %w", start, path, err)
	}

	// Without follow, stop after the tail lines even if the file grows
	// meanwhile (upstream's limitedMode).
	limited := opts.Tail >= 0 && !opts.Follow
	remaining := opts.Tail
	r := bufio.NewReader(f)
	w := newLogWriter(stdout, stderr, opts)
	var msg Message
	stop := false
	found := true
	newLine := true
	for {
		if stop || (limited && remaining == 0) {
			return nil
		}
		l, err := r.ReadBytes('\n')
		if err != nil {
			if err != io.EOF {
				return fmt.Errorf("failed to read log file %q: %w", path, err)
			}
			if opts.Follow {
				// A stopped container's file has been drained.
				if !found {
					return nil
				}
				// Read an incomplete last line again once it is complete.
				offset, err := f.Seek(-int64(len(l)), io.SeekCurrent)
				if err != nil {
					return fmt.Errorf("failed to reset seek in log file %q: %w", path, err)
				}
				r.Reset(f)
				if found, err = waitLogs(ctx, f, offset, running); err != nil {
					return err
				}
				continue
			}
			// Write what is left, even an incomplete line, then stop.
			stop = true
			if len(l) == 0 {
				continue
			}
		}
		if err := ParseCRILog(l, &msg); err != nil {
			// Upstream logs and skips lines it cannot parse.
			continue
		}
		if err := w.write(&msg, newLine); err != nil {
			if errors.Is(err, errMaximumWrite) {
				return nil
			}
			return err
		}
		if limited {
			remaining--
		}
		newLine = len(msg.Log) == 0 || msg.Log[len(msg.Log)-1] == '\n'
	}
}

// waitLogs waits until the file grows past offset (true), the container is
// no longer running (false), or ctx ends.
func waitLogs(ctx context.Context, f *os.File, offset int64, running RunningFunc) (bool, error) {
	if ok, err := running(ctx); !ok {
		return false, err
	}
	ticker := time.NewTicker(pollPeriod)
	defer ticker.Stop()
	deadline := time.Now().Add(stateCheckPeriod)
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-ticker.C:
		}
		fi, err := f.Stat()
		if err != nil {
			return false, fmt.Errorf("failed to stat log file %q: %w", f.Name(), err)
		}
		// The caller checks running again after reading to the end once more.
		if fi.Size() > offset || time.Now().After(deadline) {
			return true, nil
		}
	}
}

// Message is one parsed line of a CRI log file.
type Message struct {
	Timestamp time.Time
	Stream    runtimeapi.LogStreamType
	// Partial marks a chunk that the next line continues.
	Partial bool
	// Log is the content; a full line keeps its '\n', a partial one has none.
	Log []byte
}

// ParseCRILog parses one line of a CRI log file into msg. Log aliases line.
func ParseCRILog(line []byte, msg *Message) error {
	*msg = Message{}
	idx := bytes.IndexByte(line, ' ')
	if idx < 0 {
		return errors.New("timestamp is not found")
	}
	ts, err := time.Parse(timeFormatIn, string(line[:idx]))
	if err != nil {
		return fmt.Errorf("unexpected timestamp format %q: %w", timeFormatIn, err)
	}
	msg.Timestamp = ts

	line = line[idx+1:]
	idx = bytes.IndexByte(line, ' ')
	if idx < 0 {
		return errors.New("stream type is not found")
	}
	msg.Stream = runtimeapi.LogStreamType(line[:idx])
	if msg.Stream != runtimeapi.Stdout && msg.Stream != runtimeapi.Stderr {
		return fmt.Errorf("unexpected stream type %q", msg.Stream)
	}

	line = line[idx+1:]
	idx = bytes.IndexByte(line, ' ')
	if idx < 0 {
		return errors.New("log tag is not found")
	}
	// Tags are ":"-separated for forward compatibility; the first says P or F.
	tag, _, _ := bytes.Cut(line[:idx], []byte(runtimeapi.LogTagDelimiter))
	msg.Partial = runtimeapi.LogTag(tag) == runtimeapi.LogTagPartial
	if msg.Partial && line[len(line)-1] == '\n' {
		line = line[:len(line)-1]
	}
	msg.Log = line[idx+1:]
	return nil
}

var (
	// errMaximumWrite ends reading once the byte limit is reached.
	errMaximumWrite = errors.New("maximum write")
	// errShortWrite reports a writer that accepted less than asked.
	errShortWrite = errors.New("short write")
)

// logWriter writes messages to the stream they came from, applying since,
// timestamps and the byte limit.
type logWriter struct {
	stdout, stderr io.Writer
	opts           *Options
	remain         int64
}

func newLogWriter(stdout, stderr io.Writer, opts *Options) *logWriter {
	w := &logWriter{stdout: stdout, stderr: stderr, opts: opts, remain: math.MaxInt64}
	if opts.Bytes >= 0 {
		w.remain = opts.Bytes
	}
	return w
}

// write writes msg; addPrefix is false for the continuation of a partial
// line, which must not get a second timestamp.
func (w *logWriter) write(msg *Message, addPrefix bool) error {
	if msg.Timestamp.Before(w.opts.Since) {
		return nil
	}
	line := msg.Log
	if w.opts.Timestamps && addPrefix {
		prefix := append([]byte(msg.Timestamp.Format(TimeFormatOut)), ' ')
		line = append(prefix, line...)
	}
	if int64(len(line)) > w.remain {
		line = line[:w.remain]
	}
	stream := w.stdout
	if msg.Stream == runtimeapi.Stderr {
		stream = w.stderr
	}
	if stream == nil {
		return nil
	}
	n, err := stream.Write(line)
	w.remain -= int64(n)
	if err != nil {
		return err
	}
	if n < len(line) {
		return errShortWrite
	}
	if w.remain <= 0 {
		return errMaximumWrite
	}
	return nil
}
