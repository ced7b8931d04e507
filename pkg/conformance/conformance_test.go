package conformance_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/brokenclients"
	"github.com/execlab/execlab/pkg/apiserver"
	"github.com/execlab/execlab/pkg/conformance"
	"github.com/execlab/execlab/pkg/execlabtest"
)

// run runs the suite and fails the test if it cannot run at all; the
// table goes to the test's log.
func run(t *testing.T, opts conformance.Options) *conformance.Report {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	r, err := conformance.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	r.WriteTable(&table)
	t.Logf("%s:\n%s", r.Client, table.String())
	return r
}

// outcomes lists the results that are not passes, as "case/protocol".
func outcomes(r *conformance.Report, o conformance.Outcome) []string {
	var out []string
	for _, res := range r.Results {
		if res.Outcome == o {
			out = append(out, res.Case+"/"+string(res.Protocol))
		}
	}
	sort.Strings(out)
	return out
}

// notApplicable is what the suite's own client cannot have on this stack:
// v4 over WebSocket has no half-close.
var notApplicable = []string{"stdin-eof/websocket-v4"}

// TestSuite runs every case in every column against a stack in this
// process, in each of the apiserver's streaming modes: all pass, but stdin's
// end over v4 WebSocket, which the protocol cannot say. The sizes are the
// suite's own at the end-to-end tests (test/e2e's TestConformance, on the
// binaries); here, under the race detector, smaller.
func TestSuite(t *testing.T) {
	t.Parallel()
	for _, mode := range []apiserver.StreamingMode{apiserver.StreamingTranslate, apiserver.StreamingPassthrough} {
		t.Run(string(mode), func(t *testing.T) {
			t.Parallel()
			s := execlabtest.New(t, execlabtest.Options{StreamingMode: mode})
			r := run(t, conformance.Options{Config: s.RESTConfig(), Execs: 100, BinaryBytes: 8 << 20})
			if f := outcomes(r, conformance.Fail); len(f) > 0 {
				t.Errorf("failed: %v", f)
			}
			if na := outcomes(r, conformance.NotApplicable); !slices.Equal(na, notApplicable) {
				t.Errorf("not applicable: %v, want %v", na, notApplicable)
			}
			// 13 cases in the 3 upgraded columns, 3 port-forward cases in 2,
			// fallback in the 2 WebSocket ones, 3 over plain HTTP.
			if got, want := len(r.Results), 13*3+3*2+2+3; got != want {
				t.Errorf("%d results, want %d: every case in each of its columns", got, want)
			}
		})
	}
}

// caught says which cells each broken client fails: exactly these, and
// every other cell as the suite's own client has it.
var caught = map[string][]string{
	"no-half-close":   {"stdin-eof/websocket-v5"},
	"loses-exit-code": {"exit-codes/spdy", "exit-codes/websocket-v4", "exit-codes/websocket-v5"},
	"no-fallback":     {"fallback/websocket-v4", "fallback/websocket-v5"},
	"ignores-close":   {"attach/spdy", "attach/websocket-v4", "attach/websocket-v5"},
	"sends-1":         {"query/spdy", "query/websocket-v4", "query/websocket-v5"},
	"optimist": {"bad-requests/spdy", "bad-requests/websocket-v4", "bad-requests/websocket-v5",
		"negotiation/spdy", "negotiation/websocket-v4", "negotiation/websocket-v5"},
	// Its sessions outlive it, until the suite deletes their pod.
	"ignores-cancel": {"cancel/spdy", "cancel/websocket-v4", "cancel/websocket-v5", "no-leak/http"},
}

// TestBrokenClients runs the suite with each broken client: it fails
// exactly the cases that should catch it, and passes the others. The
// impatient client is caught by faults (pkg/faults' tests), not here: on a
// busy machine a healthy session may be quiet for a second. A client caught
// by hanging has its catching cells run with a short HangAfter, where each
// must fail as hung, and its other cells with the default, as a correct
// client has them.
func TestBrokenClients(t *testing.T) {
	t.Parallel()
	s := execlabtest.New(t, execlabtest.Options{})
	for _, name := range brokenclients.Names() {
		want, ok := caught[name]
		if !ok {
			continue
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c, err := brokenclients.New(name, s.RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			opts := conformance.Options{Config: s.RESTConfig(), Client: c, Execs: 20, BinaryBytes: 1 << 20}
			if !brokenclients.Hangs(name) {
				expect(t, run(t, opts), want, false)
				return
			}
			cases, cols := cells(want)
			hung := opts
			hung.Cases, hung.Protocols, hung.HangAfter = cases, cols, brokenclients.HangAfter
			expect(t, run(t, hung), want, true)
			rest := opts
			rest.Cases = slices.DeleteFunc(conformance.CaseNames(), func(c string) bool { return slices.Contains(cases, c) })
			expect(t, run(t, rest), nil, false)
			// The catching cases in the columns where they do not catch it.
			rest.Cases = cases
			rest.Protocols = slices.DeleteFunc(slices.Clone(conformance.Protocols), func(p conformance.Protocol) bool { return slices.Contains(cols, p) })
			if len(rest.Protocols) > 0 {
				expect(t, run(t, rest), nil, false)
			}
		})
	}
}

// cells splits "case/protocol" cells into their cases and their upgraded
// columns.
func cells(cs []string) (cases []string, cols []conformance.Protocol) {
	for _, cell := range cs {
		name, p, _ := strings.Cut(cell, "/")
		if !slices.Contains(cases, name) {
			cases = append(cases, name)
		}
		if p := conformance.Protocol(p); p != conformance.HTTP && !slices.Contains(cols, p) {
			cols = append(cols, p)
		}
	}
	return cases, cols
}

// expect checks that r failed exactly the cells failing, each declared hung
// after brokenclients.HangAfter if hung, and that the cells not applicable are
// those of notApplicable it ran.
func expect(t *testing.T, r *conformance.Report, failing []string, hung bool) {
	t.Helper()
	if got := outcomes(r, conformance.Fail); !slices.Equal(got, failing) {
		t.Errorf("failed %v, want exactly %v", got, failing)
	}
	for _, res := range r.Failed() {
		if hung && !brokenclients.HungReason(res.Reason) {
			t.Errorf("%s/%s failed for %q, want the client declared hung after %v", res.Case, res.Protocol, res.Reason, brokenclients.HangAfter)
		}
	}
	var wantNA []string
	for _, cell := range notApplicable {
		name, p, _ := strings.Cut(cell, "/")
		if _, ran := r.Get(name, conformance.Protocol(p)); ran {
			wantNA = append(wantNA, cell)
		}
	}
	if na := outcomes(r, conformance.NotApplicable); !slices.Equal(na, wantNA) {
		t.Errorf("not applicable: %v, want %v", na, wantNA)
	}
}

func TestOptions(t *testing.T) {
	_, err := conformance.Run(context.Background(), conformance.Options{})
	if err == nil || !strings.Contains(err.Error(), "no client configuration") {
		t.Errorf("no config: %v", err)
	}
	s := execlabtest.New(t, execlabtest.Options{})
	_, err = conformance.Run(context.Background(), conformance.Options{Config: s.RESTConfig(), Cases: []string{"exit-codes", "nope"}})
	if want := `no case "nope"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("an unknown case: %v, want %q", err, want)
	}
	if ps, err := conformance.ParseProtocols("spdy,websocket-v5"); err != nil || fmt.Sprint(ps) != "[spdy websocket-v5]" {
		t.Errorf("ParseProtocols: %v, %v", ps, err)
	}
	if _, err := conformance.ParseProtocols("spdy,http"); err == nil {
		t.Error("ParseProtocols took http, which is no upgrade")
	}
}
