package conformance

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/exec"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/execlab/execlab/pkg/faults"
)

// testCase is one row of the table: a behaviour of the exec path that a
// client and a cluster show together, checked in each column it has.
type testCase struct {
	name string
	// doc says what it checks, for the docs and the JUnit report.
	doc string
	// on is the column kind: the upgraded protocols, port-forward's
	// transports (SPDY and SPDY tunnelled in WebSocket, in the
	// websocket-v5 column), WebSocket's alone, or plain HTTP.
	on      columns
	timeout time.Duration
	run     func(ctx context.Context, e *env, p Protocol) error
}

type columns int

const (
	upgraded columns = iota
	forwarded
	webSocketOnly
	plainHTTP
)

// columns are the protocols the case runs in, of those chosen.
func (c testCase) columns(chosen []Protocol) []Protocol {
	var out []Protocol
	switch c.on {
	case plainHTTP:
		return []Protocol{HTTP}
	case forwarded:
		for _, p := range chosen {
			if p != WebSocketV4 {
				out = append(out, p)
			}
		}
	case webSocketOnly:
		for _, p := range chosen {
			if p.WebSocket() {
				out = append(out, p)
			}
		}
	default:
		out = chosen
	}
	return out
}

// cases are the rows, in the table's order; no-leak comes last, once the
// others' sessions are over.
var cases = []testCase{
	{name: "exit-codes", doc: "exit codes 0, 1, 3, 42 and 255, and 137 for a command killed by SIGKILL, each as the client's result", on: upgraded, timeout: time.Minute, run: exitCodes},
	{name: "stdout-stderr", doc: "stdout and stderr arrive apart, complete and in order", on: upgraded, timeout: time.Minute, run: stdoutStderr},
	{name: "long-argument", doc: "a 20 000-character argument reaches the command unchanged", on: upgraded, timeout: time.Minute, run: longArgument},
	{name: "stdin-eof", doc: "stdin's end reaches the command: `echo x | exec -i cat` ends (a half-close; v4 over WebSocket has none)", on: upgraded, timeout: time.Minute, run: stdinEOF},
	{name: "binary", doc: "100 MiB of binary both ways at once, byte-exact (through head -c)", on: upgraded, timeout: 3 * time.Minute, run: binary},
	{name: "tty", doc: "a terminal gets the client's initial size, then its resize", on: upgraded, timeout: time.Minute, run: tty},
	{name: "tty-no-stdin", doc: "a terminal without stdin shows the command's output, written after a second", on: upgraded, timeout: time.Minute, run: ttyNoStdin},
	{name: "attach", doc: "attach reaches the container's stdin and stdout, and ends when the server closes the session (the process exited)", on: upgraded, timeout: time.Minute, run: attach},
	{name: "cancel", doc: "a client that gives up (its context ends) returns at once and closes the session", on: upgraded, timeout: time.Minute, run: cancelSession},
	{name: "port-forward", doc: "1 MiB each way through a forwarded connection, which the client half-closes; the echo's close comes back", on: forwarded, timeout: time.Minute, run: portForwardEcho},
	{name: "port-forward-silent", doc: "a forwarded connection that sends nothing and half-closes gets an empty answer and its end", on: forwarded, timeout: time.Minute, run: portForwardSilent},
	{name: "port-forward-pod-deleted", doc: "a forwarded connection ends, and the forward with it, when the pod is deleted", on: forwarded, timeout: 2 * time.Minute, run: portForwardPodDeleted},
	{name: "logs", doc: "tail, limitBytes, timestamps, sinceSeconds and sinceTime", on: plainHTTP, timeout: time.Minute, run: logs},
	{name: "logs-follow", doc: "follow streams new lines as the container writes them", on: plainHTTP, timeout: time.Minute, run: logsFollow},
	{name: "negotiation", doc: "one version offered is the one spoken; versions the server lacks are refused (a non-101), not hung", on: upgraded, timeout: time.Minute, run: negotiation},
	{name: "fallback", doc: "a refused WebSocket upgrade falls back to SPDY", on: webSocketOnly, timeout: time.Minute, run: fallback},
	{name: "bad-requests", doc: "an unknown pod (404), an unknown container (400) and no command (400) fail with the server's Status; tty with stderr runs on one terminal, or is refused with a 4xx", on: upgraded, timeout: time.Minute, run: badRequests},
	{name: "query", doc: "the client's query says true, as kubectl's does, not 1 (what the apiserver received, where it shows it)", on: upgraded, timeout: time.Minute, run: queryFlags},
	{name: "execs", doc: "1000 execs in a row, at least 99 % of them exit 0", on: upgraded, timeout: 5 * time.Minute, run: manyExecs},
	{name: "no-leak", doc: "no session left open: none of the client's streaming goroutines, none of its sessions on the server (where it shows them)", on: plainHTTP, timeout: time.Minute, run: noLeak},
}

// CaseNames lists the cases, in the table's order.
func CaseNames() []string {
	names := make([]string, len(cases))
	for i, c := range cases {
		names[i] = c.name
	}
	return names
}

// CaseDoc says what a case checks.
func CaseDoc(name string) string {
	c, _ := lookupCase(name)
	return c.doc
}

func lookupCase(name string) (testCase, bool) {
	for _, c := range cases {
		if c.name == name {
			return c, true
		}
	}
	return testCase{}, false
}

// DefaultHangAfter is Options.HangAfter's default: how long the suite waits
// for what a correct client and server do at once (a client returns once
// its session is cut, its stdin ends or its context ends; a server ends a
// session its client left) before it calls that a hang. It is generous, so
// that no machine is too slow or too busy for a correct client to pass
// (3 s and 10 s were, with pkg/faults' scenarios in parallel under the race
// detector on two cores); a broken client that hangs is caught once it has
// passed.
const DefaultHangAfter = 30 * time.Second

// stream runs one session of a case through the client. With a fault on
// (Options.Fault), WebSocket falls back to SPDY, and the session is held to
// the fault's Expect: a refusal must fail with the server's message and no
// exit code, a cut must end within Options.HangAfter; either way the case ends there
// (expectationMet). A fault whose sessions run as usual leaves the case to
// its checks.
func (e *env) stream(ctx context.Context, req StreamRequest) error {
	f := e.opts.Fault
	if f == nil {
		return e.client.Stream(ctx, req)
	}
	// Under a fault a client behaves as kubectl does: a refused WebSocket
	// falls back to SPDY.
	req.Fallback = true
	if f.Expect() == faults.Normal {
		return e.client.Stream(ctx, req)
	}
	if f.Expect() == faults.Cut {
		ctx, cancel := context.WithTimeout(ctx, e.opts.HangAfter)
		defer cancel()
		err := e.client.Stream(ctx, req)
		if ctx.Err() != nil {
			return fmt.Errorf("the client still waited %v after the fault %s cut the session: %v", e.opts.HangAfter, f, err)
		}
		return expectationMet(fmt.Sprintf("the session cut by %s ended: %v", f, errOrSuccess(err)))
	}
	return refused(*f, e.client.Stream(ctx, req))
}

// refused checks that err is the refusal f causes.
func refused(f faults.Fault, err error) error {
	var exit exec.ExitError
	switch {
	case err == nil:
		return fmt.Errorf("the session succeeded; fault %s should have refused it", f)
	case errors.As(err, &exit):
		return fmt.Errorf("exit code %d; fault %s should have refused the session with no exit code", exit.ExitStatus(), f)
	case !strings.Contains(err.Error(), f.Message()):
		return fmt.Errorf("error %q does not carry the server's message %q (fault %s)", err, f.Message(), f)
	}
	return expectationMet(fmt.Sprintf("refused as fault %s does: %v", f, err))
}

func errOrSuccess(err error) string {
	if err == nil {
		return "success"
	}
	return err.Error()
}

// exitCode is the command's exit code err reports, 0 for none; a failure
// that is no exit code is an error.
func exitCode(err error) (int, error) {
	var exit exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &exit):
		return exit.ExitStatus(), nil
	}
	return -1, err
}

// statusOf finds the API Status in a client's error, also inside a
// WebSocket upgrade failure (which does not unwrap).
func statusOf(err error) (*apierrors.StatusError, bool) {
	var status *apierrors.StatusError
	if errors.As(err, &status) {
		return status, true
	}
	var upgrade *streamhttp.UpgradeFailureError
	if errors.As(err, &upgrade) {
		return statusOf(upgrade.Cause)
	}
	return nil, false
}
