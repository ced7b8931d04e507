package e2e

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/execlab/execlab/pkg/conformance"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/faults"
)

// suiteSize is the suite's heavier cases at the size make test runs them
// (docs/testing.md); the full size is the command's default.
var suiteSize = []string{"--execs", "100", "--binary-mib", "8"}

// runConformance runs bin/mini-kubectl conformance against kubeconfig and
// returns its table, its JUnit report and its exit code.
func runConformance(t *testing.T, kubeconfig string, args ...string) (string, junitSuites, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	junit := filepath.Join(t.TempDir(), "junit.xml")
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "mini-kubectl"),
		append([]string{"conformance", "--kubeconfig", kubeconfig, "--junit", junit}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("mini-kubectl conformance: %v\n%s", err, stderr.String())
	}
	t.Logf("mini-kubectl conformance exited %d:\n%s", code, stdout.String())
	var suites junitSuites
	data, err := os.ReadFile(junit)
	if err != nil {
		t.Fatalf("no JUnit report: %v\n%s", err, stderr.String())
	}
	if err := xml.Unmarshal(data, &suites); err != nil {
		t.Fatalf("JUnit report: %v\n%s", err, data)
	}
	return stdout.String(), suites, code
}

// junitSuites is what CI systems read of the JUnit report: one suite.
type junitSuites struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
}

func (j junitSuites) counts() (tests, failures int) { return j.Tests, j.Failures }

// runtimeDefects are the cells a runtime fails by a defect of its own, as a
// cluster on it would: containerd ends a terminal's output when its stdin
// ends, and over WebSocket v4 a stdin the client did not ask for ends at
// once (pkg/conformance's ttyNoStdin, docs/containerd.md).
var runtimeDefects = map[string][]string{containerdRuntime: {"tty-no-stdin/websocket-v4"}}

// TestConformanceCommand runs mini-kubectl conformance against a stack in
// this process and one of the binaries: every case has its row, nothing
// fails but the runtime's own defects, the exit code says whether any did,
// and the JUnit report agrees.
func TestConformanceCommand(t *testing.T) {
	t.Parallel()
	stacks := map[string]struct {
		start   func(t *testing.T) string
		runtime string
	}{
		"in-process": {func(t *testing.T) string { return execlabtest.New(t, execlabtest.Options{}).Kubeconfig }, fakeRuntime},
		"processes":  {func(t *testing.T) string { return newStack(t, execlabtest.Options{}).Kubeconfig }, runtimeName},
	}
	for name, stack := range stacks {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			table, junit, code := runConformance(t, stack.start(t), suiteSize...)
			want := runtimeDefects[stack.runtime]
			if wantCode := min(len(want), 1); code != wantCode {
				t.Errorf("exit code %d, want %d", code, wantCode)
			}
			lines := strings.Split(table, "\n")
			if want := "CASE  HTTP  SPDY  WEBSOCKET-V4  WEBSOCKET-V5"; strings.Join(strings.Fields(lines[0]), "  ") != want {
				t.Errorf("header %q, want %q", lines[0], want)
			}
			for _, c := range conformance.CaseNames() {
				if !strings.Contains(table, "\n"+c+" ") {
					t.Errorf("no row for case %s", c)
				}
			}
			if failed := failedCells(lines); !slices.Equal(failed, want) || !strings.Contains(table, fmt.Sprintf(" %d failed,", len(want))) {
				t.Errorf("failed %v, want %v", failed, want)
			}
			tests, failures := junit.counts()
			if tests < len(conformance.CaseNames()) || failures != len(want) {
				t.Errorf("JUnit: %d tests, %d failures; want one per case and column, %d failed", tests, failures, len(want))
			}
		})
	}
}

// failedCells reads the table's FAIL cells as case/column, the columns
// found by where the header puts them.
func failedCells(lines []string) []string {
	header := lines[0]
	var failed []string
	for _, line := range lines[1:] {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(line, "[") {
			continue
		}
		for _, col := range []string{"HTTP", "SPDY", "WEBSOCKET-V4", "WEBSOCKET-V5"} {
			at := strings.Index(header, col)
			if at < len(line) && strings.HasPrefix(line[at:], "FAIL") {
				failed = append(failed, fields[0]+"/"+strings.ToLower(col))
			}
		}
	}
	return failed
}

// TestConformanceKubectl runs the suite with real kubectl as its client
// (--kubectl), the oldest and the newest on the machine: every case it can
// run passes in every column its version speaks; the others are n/a, as
// kubectl cannot choose versions or open a terminal without one.
func TestConformanceKubectl(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		client               client
		passed, inapplicable int
	}{
		// SPDY only: 15 cells; WebSocket v5 too from 1.30 (and
		// port-forward over it from 1.31).
		{kubectl128, 15, 35},
		{kubectl133, 27, 23},
	} {
		t.Run(tc.client.name, func(t *testing.T) {
			t.Parallel()
			s := execlabtest.New(t, execlabtest.Options{})
			table, junit, code := runConformance(t, s.Kubeconfig, "--kubectl", tc.client.bin, "--execs", "20", "--binary-mib", "8")
			version := strings.TrimPrefix(tc.client.name, "kubectl-")
			want := fmt.Sprintf("%d passed, 0 failed, %d not applicable, with kubectl %s, in ", tc.passed, tc.inapplicable, version)
			if code != 0 || !strings.Contains(table, "\n"+want) {
				t.Errorf("exit code %d, table ends %q; want 0 and %q", code, lastLine(table), want)
			}
			if _, failures := junit.counts(); failures != 0 {
				t.Errorf("JUnit: %d failures", failures)
			}
		})
	}
}

// TestConformanceCommandFaulted runs it against a stack whose runtime
// refuses every Exec: the exec cases fail with the runtime's message, the
// exit code is 1, and the JUnit report counts the failures.
func TestConformanceCommandFaulted(t *testing.T) {
	t.Parallel()
	// The fault is fake-cri's: on the containerd run too, the stack is the fake's.
	s := newStackOn(t, fakeRuntime, execlabtest.Options{Faults: []execlabtest.Fault{{
		Hop: faults.Runtime, Fault: faults.MustParse("cri-error:code=Unavailable,message=runtime on fire")}}})
	table, junit, code := runConformance(t, s.Kubeconfig, "--case", "exit-codes", "--case", "logs")
	if code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
	for _, p := range conformance.Protocols {
		if res := "exit-codes, " + string(p) + ":"; !strings.Contains(table, res) {
			t.Errorf("no failure noted for %s", res)
		}
	}
	if !strings.Contains(table, "runtime on fire") {
		t.Error("the failures do not give the runtime's message")
	}
	if tests, failures := junit.counts(); failures != len(conformance.Protocols) || tests <= failures {
		t.Errorf("JUnit: %d tests, %d failures; want exit-codes failed in each of %d columns and logs passed", tests, failures, len(conformance.Protocols))
	}
}
