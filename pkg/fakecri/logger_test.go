package fakecri

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// record matches one CRI log record, as the kubelet parses it
// (pkg/kubelet/kuberuntime/logs/logs.go, parseCRILog).
var record = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z) (stdout|stderr) ([PF]) (.*)$`)

// logContent joins what the records of a CRI log say: a full record ends a
// line, a partial one does not.
func logContent(t testing.TB, log string) string {
	t.Helper()
	var b strings.Builder
	for _, l := range strings.SplitAfter(log, "\n") {
		if l == "" {
			continue
		}
		m := record.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
		if m == nil || !strings.HasSuffix(l, "\n") {
			t.Fatalf("not a CRI log record: %q", l)
		}
		b.WriteString(m[4])
		if m[3] == "F" {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// fixedClock ticks one nanosecond a record from 2026-01-02T03:04:05Z.
func fixedClock() func() time.Time {
	t := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("CET", 3600))
	return func() time.Time {
		t = t.Add(time.Nanosecond)
		return t
	}
}

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", 10)
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"lines", []string{"one\ntwo\n"}, "F one|F two"},
		{"split writes", []string{"o", "ne\nt", "wo\n"}, "F one|F two"},
		{"empty line", []string{"\n\n"}, "F |F "},
		{"CRLF", []string{"dos\r\n"}, "F dos"},
		{"CRLF split", []string{"dos\r", "\n"}, "F dos"},
		{"lone CR", []string{"a\rb\n"}, "F a\rb"},
		{"no newline at the end", []string{"tail"}, "P tail"},
		{"CR at the end", []string{"tail\r"}, "P tail\r"},
		{"exactly max", []string{long + "\n"}, "F " + long},
		{"exactly max with CRLF", []string{long + "\r\n"}, "F " + long},
		{"max then CR at close", []string{long + "\r"}, "P " + long + "|P \r"},
		{"max+1", []string{long + "y\n"}, "P " + long + "|F y"},
		{"long, in pieces", []string{"xxxx", "xxxxxx", "xxxxxxxxxx", "xxxxxxxxxx", "z\n"}, "P " + long + "|P " + long + "|P " + long + "|F z"},
		{"long unterminated", []string{long + long + "abc"}, "P " + long + "|P " + long + "|P abc"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			w := newLineWriter(&out, "stdout")
			w.maxLen, w.now = 10, fixedClock()
			for _, s := range tc.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			w.Close()
			var got []string
			for i, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
				prefix := fmt.Sprintf("2026-01-02T02:04:05.%09dZ stdout ", i+1)
				if !strings.HasPrefix(l, prefix) {
					t.Fatalf("record %q does not start with %q", l, prefix)
				}
				got = append(got, strings.TrimPrefix(l, prefix))
			}
			if strings.Join(got, "|") != tc.want {
				t.Errorf("records %q, want %q", strings.Join(got, "|"), tc.want)
			}
		})
	}
}

// TestLineWriterDefaultMax checks containerd's default cut: 16 KiB.
func TestLineWriterDefaultMax(t *testing.T) {
	var out bytes.Buffer
	w := newLineWriter(&out, "stderr")
	line := strings.Repeat("a", maxLogLineSize) + strings.Repeat("b", 100)
	w.Write([]byte(line + "\n"))
	recs := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(recs) != 2 || !strings.HasSuffix(recs[0], " stderr P "+line[:16384]) || !strings.HasSuffix(recs[1], " stderr F "+line[16384:]) {
		t.Errorf("records of a %d-byte line: %d, %.80q…", len(line), len(recs), recs)
	}
}

// FuzzLineWriter checks that any output, written in any pieces, comes out as
// well-formed records that say exactly what was written, "\r\n" read as
// "\n".
func FuzzLineWriter(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3))
	f.Add([]byte("a\r\nb\rc\r"), uint8(1))
	f.Add([]byte(strings.Repeat("x", 40)+"\n\n"), uint8(7))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		var out bytes.Buffer
		w := newLineWriter(&out, "stdout")
		w.maxLen = 8
		for rest := data; len(rest) > 0; {
			n := min(len(rest), int(cut)+1)
			w.Write(rest[:n])
			rest = rest[n:]
		}
		w.Close()
		for _, l := range strings.SplitAfter(out.String(), "\n") {
			m := record.FindStringSubmatch(strings.TrimSuffix(l, "\n"))
			if l != "" && (m == nil || len(m[4]) > w.maxLen) {
				t.Fatalf("bad record %q", l)
			}
		}
		want := strings.ReplaceAll(string(data), "\r\n", "\n")
		if got := logContent(t, out.String()); got != want {
			t.Errorf("log says %q, want %q", got, want)
		}
	})
}

// TestReopenContainerLog rotates a log as the kubelet does: rename, then
// ReopenContainerLog, after which the container writes to a new file.
func TestReopenContainerLog(t *testing.T) {
	e := newEnv(t, t.TempDir())
	sb := e.runPod("p")
	cfg := containerConfig("p", "c", "cat")
	cfg.Stdin = true
	id := e.create(sb, "p", cfg)
	if _, err := e.rs.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	stdin, _, _, cancel, done := e.attach(id, false)
	defer func() {
		cancel()
		stdin.Close()
		<-done
	}()
	waitAttached(t, e, id, 1)
	path := e.logPath("p", "c")
	io.WriteString(stdin, "before\n")
	waitFile(t, path, func(s string) bool { return strings.HasSuffix(s, " stdout F before\n") })
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	io.WriteString(stdin, "after\n")
	if got := logContent(t, waitFile(t, path, func(s string) bool { return s != "" })); got != "after\n" {
		t.Errorf("new log says %q", got)
	}
	if got := logContent(t, readFile(t, path+".1")); got != "before\n" {
		t.Errorf("rotated log says %q", got)
	}
	if _, err := e.rs.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: id}); err != nil {
		t.Fatal(err)
	}
	_, err := e.rs.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: id})
	wantCode(t, err, codes.Unknown, "container is not running")
}
