package logs

import (
	"bytes"
	"strings"
	"testing"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// FuzzParseCRILog feeds arbitrary lines to the parser: it must not panic, and
// what it accepts must be a well-formed message taken from the line's end.
func FuzzParseCRILog(f *testing.F) {
	f.Add([]byte("2016-10-06T00:17:09.669794202Z stdout F log content 1\n"))
	f.Add([]byte("2016-10-06T00:17:09.669794203Z stderr P log content 2\n"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var msg Message
		if err := ParseCRILog(line, &msg); err != nil {
			return
		}
		if msg.Stream != runtimeapi.Stdout && msg.Stream != runtimeapi.Stderr {
			t.Fatalf("accepted stream %q", msg.Stream)
		}
		rest := line
		if msg.Partial {
			rest = bytes.TrimSuffix(rest, []byte{'\n'})
		}
		if !bytes.HasSuffix(rest, msg.Log) {
			t.Fatalf("log %q is not the end of line %q", msg.Log, line)
		}
	})
}

// FuzzFindTailLineStartIndex checks the backwards block scan against a plain
// forward count of complete lines.
func FuzzFindTailLineStartIndex(f *testing.F) {
	f.Add("a\nb\nc\n", int64(1))
	f.Add(strings.Repeat("x\n", 700), int64(600))
	f.Fuzz(func(t *testing.T, content string, n int64) {
		got, err := FindTailLineStartIndex(strings.NewReader(content), n)
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveTailStart(content, n); got != want {
			t.Fatalf("FindTailLineStartIndex(%q, %d) = %d, want %d", content, n, got, want)
		}
	})
}

func naiveTailStart(content string, n int64) int64 {
	var newlines []int64
	for i := range len(content) {
		if content[i] == '\n' {
			newlines = append(newlines, int64(i))
		}
	}
	if n < 0 || n >= int64(len(newlines)) {
		return 0
	}
	if n == 0 {
		return newlines[len(newlines)-1] + 1
	}
	return newlines[int64(len(newlines))-n-1] + 1
}
