package faults_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/brokenclients"
	"github.com/execlab/execlab/pkg/conformance"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/faults"
)

// scenario shows one fault at work: a stack with the fault on, the
// conformance case that should catch a client mishandling it, the suite's
// own client passing it (held to the fault's Expect), and the broken
// client failing it.
type scenario struct {
	hop    faults.Hop
	fault  string
	cse    string
	broken string
	// caughtIn are the columns where the broken client fails (the others
	// it passes); none: every column.
	caughtIn []conformance.Protocol
}

// webSockets are the columns a client that never falls back fails in.
var webSockets = []conformance.Protocol{conformance.WebSocketV4, conformance.WebSocketV5}

// scenarios has a scenario for every row of faults.Table (TestScenarios
// checks), and some rows more than one.
var scenarios = []scenario{
	{faults.Kubelet, "upgrade-delay:d=1500ms", "stdout-stderr", "impatient", nil},
	{faults.APIServer, "frame-delay:d=1200ms,stream=stdout", "stdout-stderr", "impatient", nil},
	{faults.APIServer, "refuse-upgrade:status=400,transport=websocket", "stdout-stderr", "no-fallback", webSockets},
	{faults.Kubelet, "refuse-upgrade:status=503", "stdout-stderr", "optimist", nil},
	{faults.Streaming, "refuse-upgrade:status=429,body=slow down", "stdout-stderr", "optimist", nil},
	{faults.APIServer, "protocols:websocket=", "stdout-stderr", "no-fallback", webSockets},
	// The apiserver translates v5 to SPDY towards the kubelet: only v4 meets
	// the kubelet's WebSocket.
	{faults.Kubelet, "protocols:websocket=", "stdout-stderr", "no-fallback", []conformance.Protocol{conformance.WebSocketV4}},
	// The cuts come once the session's streams are up: a connection cut
	// before then leaves client-go's SPDY waiting 30 s for its streams'
	// replies (createStreamResponseTimeout), longer than the suite waits.
	{faults.APIServer, "close-after:bytes=1,stream=stdout", "attach", "ignores-close", nil},
	{faults.Streaming, "close-after:bytes=1,stream=stdout", "attach", "ignores-close", nil},
	{faults.Kubelet, "reset-after:bytes=1,stream=stdout", "attach", "ignores-close", nil},
	// The stall comes once the session's first output is through: the
	// cancel case gives up on a session once the client shows it runs.
	{faults.APIServer, "stall:after=1,stream=stdout", "cancel", "ignores-cancel", nil},
	{faults.Runtime, "cri-error:code=Unavailable,message=runtime on fire", "stdout-stderr", "optimist", nil},
	{faults.Runtime, "cri-error:rpc=Attach,code=NotFound,message=no such container", "attach", "optimist", nil},
	{faults.Runtime, "streaming-url:form=relative", "stdout-stderr", "optimist", nil},
	{faults.Runtime, "streaming-url:form=schemeless", "stdout-stderr", "optimist", nil},
	{faults.Streaming, "token-expiry", "stdout-stderr", "optimist", nil},
}

func (sc scenario) name() string { return fmt.Sprintf("%s@%s", sc.fault, sc.hop) }

// TestScenarios: under each fault, the case passes with the suite's own
// client (client-go) and fails with the broken client, in every column.
func TestScenarios(t *testing.T) {
	covered := map[string]bool{"kill": true} // TestKill
	for _, sc := range scenarios {
		covered[faults.MustParse(sc.fault).Name] = true
		t.Run(sc.name(), func(t *testing.T) {
			t.Parallel()
			f := faults.MustParse(sc.fault)
			s := execlabtest.New(t, execlabtest.Options{Faults: []execlabtest.Fault{{Hop: sc.hop, Fault: f}}})
			check(t, s, &f, sc.cse, nil, nil)
			broken, err := brokenclients.New(sc.broken, s.RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			caughtIn := sc.caughtIn
			if caughtIn == nil {
				caughtIn = conformance.Protocols
			}
			check(t, s, &f, sc.cse, broken, caughtIn)
		})
	}
	for _, spec := range faults.Table {
		if !covered[spec.Name] {
			t.Errorf("fault %s has no scenario", spec.Name)
		}
	}
}

// check runs one case under fault f with client (nil: the suite's own)
// and wants it to fail in the columns failing, and pass in the others.
func check(t *testing.T, s *execlabtest.Stack, f *faults.Fault, cse string, client conformance.Client, failing []conformance.Protocol) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := conformance.Options{Config: s.RESTConfig(), Client: client, Fault: f, Cases: []string{cse}}
	// A client caught by hanging is declared hung sooner than the default
	// bound, which a correct client keeps; its failures must then say it
	// hung, not that it was merely slow at something else.
	hangs := client != nil && brokenclients.Hangs(client.Name())
	if hangs {
		opts.HangAfter = brokenclients.HangAfter
	}
	r, err := conformance.Run(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	r.WriteTable(&table)
	for _, res := range r.Results {
		if pass := !slices.Contains(failing, res.Protocol); (res.Outcome == conformance.Pass) != pass {
			t.Errorf("%s under %s with %s: %s %s; want pass %v\n%s", cse, f, r.Client, res.Protocol, res.Outcome, pass, table.String())
		}
		if hangs && res.Outcome == conformance.Fail && !brokenclients.HungReason(res.Reason) {
			t.Errorf("%s under %s with %s: %s failed for %q, want it declared hung after %v", cse, f, r.Client, res.Protocol, res.Reason, brokenclients.HangAfter)
		}
	}
}

// TestKill kills the kubelet under an attach session (the harness's
// fault, kill): the suite's own client ends the session at once, the one
// that ignores the server's close does not. The kill comes once the
// client has the session's first output, when the session is up at every
// hop: a kill before the upgrade is answered would be a refusal, which
// ignores-close sees, and one before SPDY's streams are answered leaves
// client-go waiting 30 s for them (createStreamResponseTimeout). The
// kubelet is started again for the next column and for the suite to delete
// its pods. (A runtime killed in this process comes back without the
// attach pods' containers, so later columns are refused rather than cut:
// test/e2e kills the runtime's process instead.)
func TestKill(t *testing.T) {
	kill := faults.Fault{Name: "kill"}
	for _, component := range []string{"kubelet"} {
		t.Run(component, func(t *testing.T) {
			t.Parallel()
			s := execlabtest.New(t, execlabtest.Options{})
			var c *execlabtest.Component
			for _, comp := range s.Components() {
				if comp.Name == component {
					c = comp
				}
			}
			for _, client := range []string{"", "ignores-close"} {
				cl, err := conformance.NewClient(s.RESTConfig())
				if client != "" {
					cl, err = brokenclients.New(client, s.RESTConfig())
				}
				if err != nil {
					t.Fatal(err)
				}
				var failing []conformance.Protocol
				if client != "" {
					failing = conformance.Protocols
				}
				check(t, s, &kill, "attach", &killer{Client: cl, t: t, s: s, c: c}, failing)
			}
		})
	}
}

// killer is a client whose attach sessions get c killed, and started
// again, once their first output arrives.
type killer struct {
	conformance.Client
	t *testing.T
	s *execlabtest.Stack
	c *execlabtest.Component
}

func (k *killer) Stream(ctx context.Context, req conformance.StreamRequest) error {
	if req.Subresource != "attach" || req.Stdout == nil {
		return k.Client.Stream(ctx, req)
	}
	var once sync.Once
	killed := make(chan struct{})
	out := req.Stdout
	req.Stdout = writerFunc(func(p []byte) (int, error) {
		once.Do(func() {
			// Not in the client's write: the kill waits for the
			// connections this write is on to close.
			go func() {
				defer close(killed)
				k.c.Kill()
				if err := k.s.Restart(context.Background(), k.c); err != nil {
					k.t.Errorf("restart %s: %v", k.c.Name, err)
				}
			}()
		})
		return out.Write(p)
	})
	err := k.Client.Stream(ctx, req)
	once.Do(func() { close(killed) }) // no output: nothing killed
	<-killed
	return err
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
