package logs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testLog is a handwritten CRI log: a partial line, an offset time zone, a
// line nobody can parse and stderr in between.
const testLog = "2024-01-02T03:04:05.000000001Z stdout F line 1\n" +
	"2024-01-02T03:04:06.5Z stderr F err 1\n" +
	"2024-01-02T03:04:07.000000003Z stdout P part-a \n" +
	"2024-01-02T03:04:07.000000004Z stdout F part-b\n" +
	"2024-01-02T03:04:08+01:00 stdout F zoned\n" +
	"garbage line\n" +
	"2024-01-02T03:04:09.000000009Z stdout F last\n"

func writeLog(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func notRunning(context.Context) (bool, error) { return false, nil }

func ptr[T any](v T) *T { return &v }

func TestReadLogs(t *testing.T) {
	path := writeLog(t, testLog)
	mustTime := func(s string) *metav1.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return &metav1.Time{Time: tm}
	}
	now, _ := time.Parse(time.RFC3339, "2024-01-02T03:04:09Z")
	for _, tc := range []struct {
		name string
		opts v1.PodLogOptions
		want string
	}{
		{"all", v1.PodLogOptions{}, "line 1\nerr 1\npart-a part-b\nzoned\nlast\n"},
		{"timestamps", v1.PodLogOptions{Timestamps: true},
			"2024-01-02T03:04:05.000000001Z line 1\n" +
				"2024-01-02T03:04:06.500000000Z err 1\n" +
				"2024-01-02T03:04:07.000000003Z part-a part-b\n" +
				"2024-01-02T03:04:08.000000000+01:00 zoned\n" +
				"2024-01-02T03:04:09.000000009Z last\n"},
		// Tail counts file lines, as upstream: the garbage line is one.
		{"tail 3", v1.PodLogOptions{TailLines: ptr[int64](3)}, "zoned\nlast\n"},
		{"tail 4 starts at the partial's continuation", v1.PodLogOptions{TailLines: ptr[int64](4)}, "part-b\nzoned\nlast\n"},
		{"tail 0", v1.PodLogOptions{TailLines: ptr[int64](0)}, ""},
		{"tail more than the file", v1.PodLogOptions{TailLines: ptr[int64](100)}, "line 1\nerr 1\npart-a part-b\nzoned\nlast\n"},
		{"limit bytes", v1.PodLogOptions{LimitBytes: ptr[int64](9)}, "line 1\ner"},
		{"limit bytes with timestamps", v1.PodLogOptions{LimitBytes: ptr[int64](33), Timestamps: true}, "2024-01-02T03:04:05.000000001Z li"},
		// 03:04:08+01:00 is 02:04:08Z: older than sinceTime.
		{"since time", v1.PodLogOptions{SinceTime: mustTime("2024-01-02T03:04:07Z")}, "part-a part-b\nlast\n"},
		{"since seconds", v1.PodLogOptions{SinceSeconds: ptr[int64](2)}, "part-a part-b\nlast\n"},
		{"the later of since time and since seconds", v1.PodLogOptions{SinceSeconds: ptr[int64](100), SinceTime: mustTime("2024-01-02T03:04:09Z")}, "last\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := ReadLogs(context.Background(), path, NewOptions(&tc.opts, now), notRunning, &out, &out)
			if err != nil {
				t.Fatal(err)
			}
			if got := out.String(); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestReadLogsSplitsStreams(t *testing.T) {
	path := writeLog(t, testLog)
	var stdout, stderr bytes.Buffer
	if err := ReadLogs(context.Background(), path, NewOptions(&v1.PodLogOptions{}, time.Now()), notRunning, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got, want := stdout.String(), "line 1\npart-a part-b\nzoned\nlast\n"; got != want {
		t.Errorf("stdout %q, want %q", got, want)
	}
	if got, want := stderr.String(), "err 1\n"; got != want {
		t.Errorf("stderr %q, want %q", got, want)
	}
}

func TestReadLogsIncompleteLastLine(t *testing.T) {
	path := writeLog(t, "2024-01-02T03:04:05Z stdout F done\n2024-01-02T03:04:06Z stdout P no newline yet")
	var out bytes.Buffer
	if err := ReadLogs(context.Background(), path, NewOptions(&v1.PodLogOptions{}, time.Now()), notRunning, &out, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "done\nno newline yet"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestReadLogsMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.log")
	err := ReadLogs(context.Background(), path, NewOptions(&v1.PodLogOptions{}, time.Now()), notRunning, io.Discard, io.Discard)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), `failed to open log file "`) {
		t.Errorf("err = %v", err)
	}
}

// lineWriter hands each write to a channel so a test can wait for lines.
type lineWriter chan string

func (w lineWriter) Write(p []byte) (int, error) {
	w <- string(p)
	return len(p), nil
}

func TestReadLogsFollow(t *testing.T) {
	path := writeLog(t, "2024-01-02T03:04:05Z stdout F first\n")
	var running atomic.Bool
	running.Store(true)
	isRunning := func(context.Context) (bool, error) { return running.Load(), nil }
	out := make(lineWriter, 10)
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(context.Background(), path, NewOptions(&v1.PodLogOptions{Follow: true, TailLines: ptr[int64](1)}, time.Now()), isRunning, out, out)
	}()
	if got := <-out; got != "first\n" {
		t.Fatalf("first write %q", got)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Half a line first: nothing may come out until the line is complete.
	f.WriteString("2024-01-02T03:04:06Z stdout F sec")
	time.Sleep(3 * pollPeriod)
	f.WriteString("ond\n2024-01-02T03:04:07Z stderr P thi")
	if got := <-out; got != "second\n" {
		t.Fatalf("second write %q", got)
	}
	f.WriteString("rd\n")
	if got := <-out; got != "third" {
		t.Fatalf("third write %q", got)
	}
	running.Store(false)
	if err := <-done; err != nil {
		t.Fatalf("ReadLogs after the container stopped: %v", err)
	}
	select {
	case extra := <-out:
		t.Errorf("unexpected write %q", extra)
	default:
	}
}

func TestReadLogsFollowEndsWithContext(t *testing.T) {
	path := writeLog(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- ReadLogs(ctx, path, NewOptions(&v1.PodLogOptions{Follow: true}, time.Now()),
			func(context.Context) (bool, error) { return true, nil }, io.Discard, io.Discard)
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestParseCRILog(t *testing.T) {
	for _, tc := range []struct {
		line    string
		want    Message
		wantErr string
	}{
		{line: "2016-10-06T00:17:09.669794202Z stdout F log content 1\n", want: Message{
			Timestamp: time.Date(2016, 10, 6, 0, 17, 9, 669794202, time.UTC), Stream: "stdout", Log: []byte("log content 1\n")}},
		{line: "2016-10-06T00:17:09.669794203Z stderr P log content 2\n", want: Message{
			Timestamp: time.Date(2016, 10, 6, 0, 17, 9, 669794203, time.UTC), Stream: "stderr", Partial: true, Log: []byte("log content 2")}},
		{line: "2016-10-06T00:17:09Z stdout F:future-tag  two spaces\n", want: Message{
			Timestamp: time.Date(2016, 10, 6, 0, 17, 9, 0, time.UTC), Stream: "stdout", Log: []byte(" two spaces\n")}},
		{line: "2016-10-06T00:17:09Z stdout F \n", want: Message{
			Timestamp: time.Date(2016, 10, 6, 0, 17, 9, 0, time.UTC), Stream: "stdout", Log: []byte("\n")}},
		{line: "no-space", wantErr: "timestamp is not found"},
		{line: "yesterday stdout F x\n", wantErr: `unexpected timestamp format "2006-01-02T15:04:05.999999999Z07:00": parsing time "yesterday" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "yesterday" as "2006"`},
		{line: "2016-10-06T00:17:09Z stdout\n", wantErr: "stream type is not found"},
		{line: "2016-10-06T00:17:09Z stdin F x\n", wantErr: `unexpected stream type "stdin"`},
		{line: "2016-10-06T00:17:09Z stdout F\n", wantErr: "log tag is not found"},
	} {
		var msg Message
		err := ParseCRILog([]byte(tc.line), &msg)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%q: err = %v, want %q", tc.line, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.line, err)
			continue
		}
		if !msg.Timestamp.Equal(tc.want.Timestamp) || msg.Stream != tc.want.Stream || msg.Partial != tc.want.Partial || string(msg.Log) != string(tc.want.Log) {
			t.Errorf("%q: got %+v, want %+v", tc.line, msg, tc.want)
		}
	}
}

func TestFindTailLineStartIndex(t *testing.T) {
	long := strings.Repeat("x", 3000) + "\n" + strings.Repeat("y", 1500) + "\n" + "z\n"
	for _, tc := range []struct {
		content string
		n       int64
		want    int64
	}{
		{"a\nb\nc\n", -1, 0},
		{"a\nb\nc\n", 0, 6},
		{"a\nb\nc\n", 1, 4},
		{"a\nb\nc\n", 3, 0},
		{"a\nb\nc\n", 7, 0},
		{"a\nb\nc", 1, 2}, // the incomplete "c" does not count
		{"", 2, 0},
		{long, 1, 4502},
		{long, 2, 3001},
		{long, 3, 0},
	} {
		got, err := FindTailLineStartIndex(strings.NewReader(tc.content), tc.n)
		if err != nil || got != tc.want {
			t.Errorf("FindTailLineStartIndex(%.10q…, %d) = %d, %v; want %d", tc.content, tc.n, got, err, tc.want)
		}
	}
}
