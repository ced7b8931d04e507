// Package brokenclients are clients of the exec path with one defect each,
// built on the conformance suite's own client (pkg/conformance): the tests
// show that the suite's cases, and pkg/faults' faults, catch each one, and
// only where they should. Each defect is one that real clients have had.
//
//	name             defect                                       caught by
//	no-half-close    never sends v5's CLOSE signal: stdin never    stdin-eof, websocket-v5
//	                 ends over WebSocket
//	loses-exit-code  reports success for any exit code (kwok's     exit-codes
//	                 wrapped *exec.ExitError)
//	no-fallback      never falls back from WebSocket to SPDY       fallback; faults refuse-upgrade
//	                                                               (transport=websocket), protocols
//	ignores-close    keeps waiting once an attach session's        attach; faults close-after,
//	                 connection ended, as if the user had yet to   reset-after, kill
//	                 detach
//	sends-1          sends stdin=1 where kubectl sends true        query
//	impatient        gives up after 1 s without a byte (an idle    faults upgrade-delay, frame-delay
//	                 timeout, as in virtual-kubelet #791)
//	optimist         takes a refused upgrade for a session that    bad-requests, negotiation; faults
//	                 ran and exited 0                              refuse-upgrade, cri-error,
//	                                                               streaming-url, token-expiry
//	ignores-cancel   streams without a context, as client-go's     cancel; fault stall
//	                 deprecated Stream
package brokenclients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/exec"
	streamhttp "k8s.io/streaming/pkg/httpstream"

	"github.com/execlab/execlab/pkg/conformance"
)

// New returns the broken client of that name, built on the suite's own.
func New(name string, config *rest.Config) (conformance.Client, error) {
	if name == "sends-1" {
		config = rest.CopyConfig(config)
		config.Wrap(func(rt http.RoundTripper) http.RoundTripper { return sendsOne{rt} })
	}
	base, err := conformance.NewClient(config)
	if err != nil {
		return nil, err
	}
	wrap, ok := defects[name]
	if !ok {
		return nil, fmt.Errorf("no broken client %q; there are %s", name, strings.Join(Names(), ", "))
	}
	return &broken{Client: base, name: name, stream: wrap}, nil
}

// Names lists the broken clients.
func Names() []string {
	return []string{"no-half-close", "loses-exit-code", "no-fallback", "ignores-close", "sends-1", "impatient", "optimist", "ignores-cancel"}
}

// Hangs reports whether the client of that name is caught by hanging (the
// suite declares it hung after conformance.Options.HangAfter) rather than
// by a wrong answer. A run of only the cells that catch it may take
// HangAfter, and must then check that each failure says it hung
// (HungReason): a correct client keeps the suite's default bound.
func Hangs(name string) bool {
	return name == "no-half-close" || name == "ignores-close" || name == "ignores-cancel"
}

// HangAfter is the conformance.Options.HangAfter of the runs that catch a
// client that hangs: a tenth of the default, as such a run waits it out in
// every cell.
const HangAfter = 3 * time.Second

// HungReason reports whether a failure's reason is the suite declaring the
// client, or the sessions it left on the server, hung after HangAfter.
func HungReason(reason string) bool {
	return strings.Contains(reason, "still") && strings.Contains(reason, HangAfter.String())
}

// broken is the suite's client with a defect in its Stream.
type broken struct {
	conformance.Client
	name   string
	stream func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error
}

func (b *broken) Name() string { return b.name }

func (b *broken) Stream(ctx context.Context, req conformance.StreamRequest) error {
	return b.stream(b.Client, ctx, req)
}

// defects are the broken clients' Streams; sends-1's defect is in its
// transport, so it streams as the suite's client does.
var defects = map[string]func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error{
	"no-half-close": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		if req.Protocol.WebSocket() && req.Stdin != nil {
			req.Stdin = &endless{r: req.Stdin, ctx: ctx}
		}
		return c.Stream(ctx, req)
	},
	"loses-exit-code": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		err := c.Stream(ctx, req)
		var exit exec.ExitError
		if errors.As(err, &exit) {
			return nil
		}
		return err
	},
	"no-fallback": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		req.Fallback = false
		return c.Stream(ctx, req)
	},
	"ignores-close": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		err := c.Stream(ctx, req)
		if req.Subresource == "attach" && !refusedUpgrade(err) {
			// An attach ends when the user detaches, it reckons, whatever
			// became of the connection.
			<-ctx.Done()
			return ctx.Err()
		}
		return err
	},
	"sends-1": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		return c.Stream(ctx, req)
	},
	"impatient": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		idle := newIdleTimer(time.Second, cancel)
		defer idle.stop()
		req.Stdout, req.Stderr = idle.watch(req.Stdout), idle.watch(req.Stderr)
		err := c.Stream(ctx, req)
		if idle.fired() {
			return fmt.Errorf("gave up after %v without a byte: %w", time.Second, err)
		}
		return err
	},
	"optimist": func(c conformance.Client, ctx context.Context, req conformance.StreamRequest) error {
		err := c.Stream(ctx, req)
		var exit exec.ExitError
		if err != nil && !errors.As(err, &exit) && ctx.Err() == nil {
			// Whatever the server said, the command must have run.
			return nil
		}
		return err
	},
	"ignores-cancel": func(c conformance.Client, _ context.Context, req conformance.StreamRequest) error {
		return c.Stream(context.Background(), req)
	},
}

// refusedUpgrade reports whether err says the upgrade was refused: the
// session never began (client-go's SPDY upgrader says so only in words).
func refusedUpgrade(err error) bool {
	return err != nil && (streamhttp.IsUpgradeFailure(err) || strings.Contains(err.Error(), "unable to upgrade connection"))
}

// endless reads r and then, instead of its end, waits for ctx: a stdin
// that never ends, so the client never half-closes it.
type endless struct {
	r   io.Reader
	ctx context.Context
}

func (e *endless) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		if n > 0 {
			return n, nil
		}
		<-e.ctx.Done()
		return 0, e.ctx.Err()
	}
	return n, err
}

// sendsOne rewrites the stream flags of exec and attach requests from true
// to 1, which the apiserver reads as true too.
type sendsOne struct{ rt http.RoundTripper }

func (s sendsOne) RoundTrip(req *http.Request) (*http.Response, error) {
	if p := req.URL.Path; strings.HasSuffix(p, "/exec") || strings.HasSuffix(p, "/attach") {
		req = req.Clone(req.Context())
		q := req.URL.Query()
		for _, flag := range []string{"stdin", "stdout", "stderr", "tty"} {
			if q.Get(flag) == "true" {
				q.Set(flag, "1")
			}
		}
		req.URL.RawQuery = q.Encode()
	}
	return s.rt.RoundTrip(req)
}

// idleTimer cancels a session when nothing was written for d.
type idleTimer struct {
	mu     sync.Mutex
	t      *time.Timer
	d      time.Duration
	gaveUp bool
}

func newIdleTimer(d time.Duration, cancel func()) *idleTimer {
	it := &idleTimer{d: d}
	it.t = time.AfterFunc(d, func() {
		it.mu.Lock()
		it.gaveUp = true
		it.mu.Unlock()
		cancel()
	})
	return it
}

func (it *idleTimer) watch(w io.Writer) io.Writer {
	if w == nil {
		return nil
	}
	return writerFunc(func(p []byte) (int, error) {
		it.t.Reset(it.d)
		return w.Write(p)
	})
}

func (it *idleTimer) stop() { it.t.Stop() }

func (it *idleTimer) fired() bool {
	it.mu.Lock()
	defer it.mu.Unlock()
	return it.gaveUp
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
