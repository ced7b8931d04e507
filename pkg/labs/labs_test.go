package labs

import (
	"context"
	"io"
	"strings"
	"testing"
)

const page = "# A lab\n<!-- lab: needs=containerd -->\n\n```console\n$ X=hello; echo \"$X\"\nhello\n$ echo one; \\\n  echo two\none\ntwo\n```\n\n```text\n$ not run\n```\n\n```console\n$ echo \"$X again, pid $$\"; echo err >&2; (exit 3)\nhello again, pid <pid>\nerr\n$ seq 1 5\n1\n...\n5\n```\n"

func TestParse(t *testing.T) {
	p, err := Parse("lab.md", page)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(p.Needs, ",") != "containerd" {
		t.Errorf("needs %q", p.Needs)
	}
	var got []string
	for _, s := range p.Steps {
		got = append(got, s.Command+" => "+strings.Join(s.Output, "|"))
	}
	want := []string{
		`X=hello; echo "$X" => hello`,
		"echo one; \\\n  echo two => one|two",
		`echo "$X again, pid $$"; echo err >&2; (exit 3) => hello again, pid <pid>|err`,
		"seq 1 5 => 1|...|5",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if ok, lacks := p.Runnable(); ok || lacks != "containerd" {
		t.Errorf("Runnable() = %v, %q", ok, lacks)
	}
	if _, err := Parse("bad.md", "```console\noutput first\n```\n"); err == nil {
		t.Error("output before a command parsed")
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		want []string
		got  string
		ok   bool
	}{
		{[]string{"hello"}, "hello\n", true},
		{[]string{"hello"}, "hello  \n", true},
		{[]string{"hello"}, "hallo\n", false},
		{[]string{"NAME   AGE", "demo   <age>"}, "  NAME     AGE\ndemo     12m\n", true},
		{[]string{"a", "...", "z"}, "a\nb\nc\nz\n", true},
		{[]string{"a", "...", "z"}, "a\nz\n", true},
		{[]string{"a", "...", "z"}, "a\nb\n", false},
		{[]string{"demo   1/1     Running   0          <age>"}, "demo   1/1     Running   0          12s\n", true},
		{[]string{"trace <trace-id>: <any>"}, "trace 0123456789abcdef0123456789abcdef: exec\n", true},
		{[]string{"trace <trace-id>"}, "trace 0123\n", false},
		{[]string{"<none>"}, "<none>\n", true},
		{[]string{"Key: <base64>"}, "Key: /D3ZRFs8uTMsrNJfaYKPvg==\n", true},
		{nil, "", true},
		{nil, "unexpected\n", false},
	} {
		err := Match(tc.want, tc.got)
		if (err == nil) != tc.ok {
			t.Errorf("Match(%q, %q) = %v, want ok=%v", tc.want, tc.got, err, tc.ok)
		}
	}
	err := Match([]string{"a", "b", "c"}, "a\nb\nx\n")
	if err == nil || !strings.Contains(err.Error(), "line 3:\n  want: c\n  got:  x") {
		t.Errorf("mismatch message: %v", err)
	}
}

func TestRunPage(t *testing.T) {
	p, err := Parse("lab.md", page)
	if err != nil {
		t.Fatal(err)
	}
	if err := RunPage(context.Background(), p, t.TempDir(), nil, io.Discard); err != nil {
		t.Fatal(err)
	}
	p.Steps[3].Output = []string{"1", "2"}
	if err := RunPage(context.Background(), p, t.TempDir(), nil, io.Discard); err == nil || !strings.Contains(err.Error(), "lab.md:21: seq 1 5") {
		t.Errorf("a wrong output passed: %v", err)
	}
}

// TestContinuedCommand: a command continued over lines runs as one, as
// bash runs the lines a reader pastes.
func TestContinuedCommand(t *testing.T) {
	p, err := Parse("lab.md", "```console\n$ printf '%s-%s\\n' \\\n    one \\\n    two\none-two\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := RunPage(context.Background(), p, t.TempDir(), nil, io.Discard); err != nil {
		t.Error(err)
	}
}

// TestSessionEndsBackgroundJobs: what a page starts in the background ends
// with its session.
func TestSessionEndsBackgroundJobs(t *testing.T) {
	s, err := NewSession(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	out, code, err := s.Run("sleep 1000 & echo $!")
	if err != nil || code != 0 {
		t.Fatal(out, code, err)
	}
	pid := strings.TrimSpace(out)
	s.Close()
	check, err := NewSession(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	// Gone, or a zombie its new parent has yet to reap.
	if out, code, _ := check.Run("(for i in $(seq 50); do [ -e /proc/" + pid + " ] && ! grep -q '^State:.*Z' /proc/" + pid + "/status || exit 0; sleep 0.1; done; exit 1)"); code != 0 {
		t.Errorf("the background job %s outlived its session: %s", pid, out)
	}
}

func TestKnownClientNoise(t *testing.T) {
	out := "E1203 15:04:53.214285    5029 websocket.go:296] Unknown stream id 1, discarding message\nabout to fail\nE1203 15:04:53.3 1 cmd.go:1] another error\n"
	want := "about to fail\nE1203 15:04:53.3 1 cmd.go:1] another error\n"
	if got := dropKnownClientNoise(out); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
