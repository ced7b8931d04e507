package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/execlab/execlab/pkg/fakecri"
)

// serve starts fake-cri's runtime on a unix socket and returns the
// endpoint: what the commands print is tested in pkg/criclient, how
// execlab-cri frames it and exits here.
func serve(t *testing.T) string {
	t.Helper()
	rt, err := fakecri.New(fakecri.Config{Root: t.TempDir(), Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	sock := filepath.Join(t.TempDir(), "cri.sock")
	lis, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	fakecri.NewService(rt, nil).Register(s)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return "unix://" + sock
}

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRun(t *testing.T) {
	ep := serve(t)
	for _, cmd := range []string{"version", "wait"} {
		code, out, errOut := runCmd(t, "-runtime-endpoint", ep, cmd)
		if code != 0 || out != "fake-cri test (CRI v1)\n" || errOut != "" {
			t.Errorf("%s: code %d, stdout %q, stderr %q", cmd, code, out, errOut)
		}
	}
	// A bare path is accepted as well as unix://.
	if code, out, _ := runCmd(t, "-runtime-endpoint", strings.TrimPrefix(ep, "unix://"), "ls"); code != 0 || out != "" {
		t.Errorf("ls: code %d, stdout %q", code, out)
	}
	if code, out, _ := runCmd(t, "-runtime-endpoint", ep, "reset"); code != 0 || out != "removed 0 pod sandbox(es) and 0 container(s) outside them\n" {
		t.Errorf("reset: code %d, stdout %q", code, out)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"frobnicate"}, {"-nosuchflag", "ls"}, {"ls", "extra"}, {"exec"}, {"exec", "main"}, {"exec", "-nosuchflag", "main", "true"}} {
		code, out, errOut := runCmd(t, args...)
		if code != 2 || out != "" || errOut == "" {
			t.Errorf("%q: code %d, stdout %q, stderr %q; want 2 and a usage", args, code, out, errOut)
		}
	}
	if _, _, errOut := runCmd(t, "frobnicate"); errOut != "execlab-cri: unknown command \"frobnicate\"\n"+usage+"\n" {
		t.Errorf("unknown command: stderr %q", errOut)
	}
}

// TestExecUnknownContainer: exec's error is reported like every command's.
func TestExecUnknownContainer(t *testing.T) {
	ep := serve(t)
	code, out, errOut := runCmd(t, "-runtime-endpoint", ep, "exec", "nothing", "true")
	if code != 1 || out != "" || errOut != "execlab-cri exec: "+ep+": no container \"nothing\"\n" {
		t.Errorf("exec nothing: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestUnreachableRuntime checks how a command's error is reported: its
// name, the endpoint, the error (pkg/criclient's tests check its words).
func TestUnreachableRuntime(t *testing.T) {
	ep := "unix://" + filepath.Join(t.TempDir(), "none.sock")
	code, out, errOut := runCmd(t, "-runtime-endpoint", ep, "-timeout", "200ms", "version")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "execlab-cri version: "+ep+": rpc error: ") || !strings.HasSuffix(errOut, "\n") {
		t.Fatalf("version against nothing: code %d, stdout %q, stderr %q", code, out, errOut)
	}
}
