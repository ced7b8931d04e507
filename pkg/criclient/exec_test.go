package criclient

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// execRuntime answers Exec with a URL naming what it was asked.
type execRuntime struct {
	fakeRuntime
	asked *runtimeapi.ExecRequest
}

func (f *execRuntime) Exec(_ context.Context, r *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	f.asked = r
	return &runtimeapi.ExecResponse{Url: "http://127.0.0.1:1/exec/" + r.ContainerId}, nil
}

func TestExec(t *testing.T) {
	exited := ctr("0000exited", "p1")
	exited.State = runtimeapi.ContainerState_CONTAINER_EXITED
	f := &execRuntime{fakeRuntime: fakeRuntime{ctrs: []*runtimeapi.Container{ctr("abc123", "p1"), ctr("abd456", "p2"), exited}}}
	f.ctrs[1].Metadata.Name = "web"
	exited.Metadata.Name = "web"
	c := dial(t, serve(t, f))
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd, ok := ExecCommand(args, io.Discard)
		if !ok {
			t.Fatalf("exec %q: usage refused", args)
		}
		return call(t, cmd, c, time.Minute)
	}

	// By name, the running one; stdout and stderr, no stdin, no tty.
	out, err := run("web", "echo", "hi")
	if err != nil || out != "http://127.0.0.1:1/exec/abd456\n" {
		t.Fatalf("exec web: %q, %v", out, err)
	}
	if a := f.asked; strings.Join(a.Cmd, " ") != "echo hi" || !a.Stdout || !a.Stderr || a.Stdin || a.Tty {
		t.Errorf("asked %+v", a)
	}
	// By ID prefix, with stdin and a terminal: no stderr.
	if out, err := run("-stdin", "-tty", "abc", "sh"); err != nil || out != "http://127.0.0.1:1/exec/abc123\n" {
		t.Fatalf("exec abc: %q, %v", out, err)
	}
	if a := f.asked; !a.Stdin || !a.Tty || !a.Stdout || a.Stderr {
		t.Errorf("asked %+v with -stdin -tty", a)
	}
	for _, tc := range []struct{ name, err string }{
		{"ab", `"ab" names 2 containers: give more of the ID`},
		{"nothing", `no container "nothing"`},
	} {
		if _, err := run(tc.name, "true"); err == nil || err.Error() != tc.err {
			t.Errorf("exec %s: %v, want %q", tc.name, err, tc.err)
		}
	}
	for _, args := range [][]string{nil, {"web"}, {"-nosuchflag", "web", "true"}} {
		if _, ok := ExecCommand(args, io.Discard); ok {
			t.Errorf("exec %q accepted", args)
		}
	}
}
