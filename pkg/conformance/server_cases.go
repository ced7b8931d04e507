package conformance

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/execlab/execlab/internal/goroutines"
	"github.com/execlab/execlab/pkg/tracing"
)

// badRequests sends what a server must refuse with a Status: an unknown
// pod (404), an unknown container (400), no command (400); and tty with
// stderr, which a kubelet runs on one terminal (upstream's
// remotecommand.NewOptions drops stderr) and a stricter server may refuse.
// These fail before any session, so no fault's Expect applies to them.
func badRequests(ctx context.Context, e *env, p Protocol) error {
	ghost := "no-such-pod-" + e.id
	checks := []struct {
		what    string
		req     StreamRequest
		code    int32
		message string
	}{
		{"unknown pod", e.exec(p, []string{"true"}, nil, io.Discard, io.Discard), 404, fmt.Sprintf("pods %q not found", ghost)},
		{"unknown container", e.exec(p, []string{"true"}, nil, io.Discard, io.Discard), 400, "no-such-container"},
		{"no command", e.exec(p, nil, nil, io.Discard, io.Discard), 400, "command"},
	}
	checks[0].req.Pod = ghost
	checks[1].req.Container = "no-such-container"
	var skipped []string
	for _, c := range checks {
		err := e.client.Stream(ctx, c.req)
		if errors.Is(err, ErrUnsupported) {
			skipped = append(skipped, c.what)
			continue
		}
		// client-go's SPDY upgrade keeps the Status's message but not its
		// code (k8s.io/streaming's SpdyRoundTripper.NewConnection).
		status, ok := statusOf(err)
		switch {
		case err == nil:
			return fmt.Errorf("%s: the session ran; want a %d Status", c.what, c.code)
		case ok && (status.ErrStatus.Code != c.code || !strings.Contains(status.ErrStatus.Message, c.message)):
			return fmt.Errorf("%s: Status %d %q; want %d with %q", c.what, status.ErrStatus.Code, status.ErrStatus.Message, c.code, c.message)
		case !strings.Contains(err.Error(), c.message):
			return fmt.Errorf("%s: %v; want the %d Status's message, with %q", c.what, err, c.code, c.message)
		}
	}
	// With stdin, which stays open: a terminal without one is tty-no-stdin's.
	stdin, stdinEnd := io.Pipe()
	defer stdinEnd.Close()
	var stdout, stderr bytes.Buffer
	req := e.exec(p, []string{"sh", "-c", "echo out; echo err >&2"}, stdin, &stdout, &stderr)
	req.TTY = true
	err := e.stream(ctx, req)
	var met expectationMet
	switch status, refused := statusOf(err); {
	case errors.As(err, &met), errors.Is(err, ErrUnsupported):
		return err
	case refused && status.ErrStatus.Code >= 400 && status.ErrStatus.Code < 500:
	case err != nil || stdout.String() != "out\r\nerr\r\n" || stderr.Len() != 0:
		return fmt.Errorf("tty with stderr: %v, terminal %q, stderr %q; want both lines on the terminal, or a 4xx Status", errOrSuccess(err), stdout.String(), stderr.String())
	}
	if len(skipped) > 0 {
		return passed("the client cannot send: " + strings.Join(skipped, ", "))
	}
	return nil
}

// queryFlags checks the exec request's flags as the apiserver received
// them. The apiserver's codec reads any value but "0" and "false" as true
// (apimachinery's runtime.Convert_Slice_string_To_bool), so a client that
// sends stdin=1 works, and only this record tells it from kubectl, which
// sends true: this stack's apiserver keeps each session's request in its
// trace (pkg/tracing's AttrRequest, /ui/api/sessions/{id}).
func queryFlags(ctx context.Context, e *env, p Protocol) error {
	marker := fmt.Sprintf("query-%s-%s", e.id, p)
	cmd := []string{"echo", marker}
	if err := e.stream(ctx, e.exec(p, cmd, strings.NewReader(""), io.Discard, io.Discard)); err != nil {
		return err
	}
	var request string
	for deadline := time.Now().Add(5 * time.Second); request == ""; time.Sleep(100 * time.Millisecond) {
		var err error
		if request, err = e.receivedRequest(ctx, strings.Join(cmd, " ")); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the apiserver shows no request of session %q", marker)
		}
	}
	line, _, _ := strings.Cut(request, "\n")
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return fmt.Errorf("the apiserver's record of the request: %q", line)
	}
	u, err := url.Parse(fields[1])
	if err != nil {
		return fmt.Errorf("the apiserver's record of the request: %w", err)
	}
	q := u.Query()
	for _, flag := range []string{"stdin", "stdout", "stderr", "tty"} {
		for _, v := range q[flag] {
			if v != "true" && v != "false" {
				return fmt.Errorf("%s=%s in the query; kubectl sends true (the apiserver takes %q too, so only its record shows it)", flag, v, v)
			}
		}
	}
	for _, flag := range []string{"stdin", "stdout", "stderr"} {
		if q.Get(flag) != "true" {
			return fmt.Errorf("the query has %s=%q; want true", flag, q.Get(flag))
		}
	}
	return nil
}

// session is a session as this stack's apiserver lists it.
type session = tracing.Session

// errNoSessions says the server does not show its sessions.
var errNoSessions = notApplicable("the server does not show its sessions (no /ui/api/sessions): a cluster other than execlab's")

// sessions lists the apiserver's sessions, where it shows them.
func (e *env) sessions(ctx context.Context) ([]session, error) {
	body, err := e.clientset.CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions").DoRaw(ctx)
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, errNoSessions
	}
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	var list []session
	if err := json.Unmarshal(body, &list); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return list, nil
}

// receivedRequest is the request line and headers of the ended session of
// the main pod with that command, as the apiserver received it; "" until
// the apiserver has it.
func (e *env) receivedRequest(ctx context.Context, command string) (string, error) {
	list, err := e.sessions(ctx)
	if err != nil {
		return "", err
	}
	for _, s := range list {
		if s.Pod != e.pods.main || s.Command != command || s.Running {
			continue
		}
		body, err := e.clientset.CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions", s.TraceID).DoRaw(ctx)
		if err != nil {
			return "", fmt.Errorf("session %s: %w", s.TraceID, err)
		}
		var d tracing.SessionDetail
		if err := json.Unmarshal(body, &d); err != nil {
			return "", fmt.Errorf("session %s: %w", s.TraceID, err)
		}
		for _, sp := range d.Spans {
			if sp.Hop() == tracing.HopAPIServer && sp.Attr(tracing.AttrRequest) != "" {
				return sp.Attr(tracing.AttrRequest), nil
			}
		}
	}
	return "", nil
}

// waitSessionsEnd waits up to Options.HangAfter until the server shows no running
// session that match picks; a server that shows none passes.
func (e *env) waitSessionsEnd(ctx context.Context, match func(session) bool) error {
	var running []string
	for deadline := time.Now().Add(e.opts.HangAfter); ; time.Sleep(100 * time.Millisecond) {
		list, err := e.sessions(ctx)
		if errors.Is(err, errNoSessions) {
			return nil
		}
		if err != nil {
			return err
		}
		running = running[:0]
		for _, s := range list {
			if s.Running && match(s) {
				running = append(running, fmt.Sprintf("%s %s/%s %q", s.Kind, s.Namespace, s.Pod, s.Command))
			}
		}
		if len(running) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sessions still open on the server %v later: %s", e.opts.HangAfter, strings.Join(running, "; "))
		}
	}
}

// streamingPackages are where the client's goroutines of a session run.
var streamingPackages = []string{
	"k8s.io/client-go/tools/remotecommand", "k8s.io/client-go/tools/portforward",
	"k8s.io/client-go/transport/spdy", "k8s.io/client-go/transport/websocket",
	"k8s.io/streaming/", "k8s.io/apimachinery/pkg/util/httpstream",
	"github.com/moby/spdystream", "github.com/gorilla/websocket",
}

// noLeak checks, once every other case is done, that no session is left:
// none of this run's goroutines in the streaming packages (every goroutine
// the client started carries the run's label; pooled HTTP connections do
// not count), and none of the suite's pods' sessions open on the server.
func noLeak(ctx context.Context, e *env, _ Protocol) error {
	isStreaming := func(stack string) bool {
		return slices.ContainsFunc(streamingPackages, func(pkg string) bool { return strings.Contains(stack, pkg) })
	}
	var n int
	var dump string
	for deadline := time.Now().Add(e.opts.HangAfter); ; time.Sleep(50 * time.Millisecond) {
		if n, dump = goroutines.LabelledMatching(runLabel, e.id, isStreaming); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of the client's streaming goroutines still run %v after the sessions:\n%s", n, e.opts.HangAfter, firstLines(dump, 30))
		}
	}
	return e.waitSessionsEnd(ctx, func(s session) bool { return slices.Contains(e.pods.all, s.Pod) })
}

func firstLines(s string, n int) string {
	sc := bufio.NewScanner(strings.NewReader(s))
	var lines []string
	for len(lines) < n && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	return strings.Join(lines, "\n")
}
