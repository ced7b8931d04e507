package faults_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/execlab/execlab/internal/brokenclients"
	"github.com/execlab/execlab/pkg/conformance"
	"github.com/execlab/execlab/pkg/execlabtest"
	"github.com/execlab/execlab/pkg/faults"
	"github.com/execlab/execlab/pkg/tracing"
)

// scenario shows one fault at work: a stack with the fault on, the
// conformance case that should catch a client mishandling it, the suite's
// own client passing it (held to the fault's Expect), and the broken
// client failing it. test/e2e's TestFaults runs the same scenarios with
// kubectl 1.28 and 1.33 on the binaries.
type scenario struct {
	hop    faults.Hop
	fault  string
	cse    string
	broken string
}

// scenarios has a scenario for every row of faults.Table (TestScenarios
// checks), and some rows more than one.
var scenarios = []scenario{
	{faults.Kubelet, "upgrade-delay:d=1500ms", "stdout-stderr", "impatient"},
	{faults.APIServer, "frame-delay:d=1200ms,stream=stdout", "stdout-stderr", "impatient"},
	{faults.APIServer, "refuse-upgrade:status=400,transport=websocket", "stdout-stderr", "no-fallback"},
	{faults.Kubelet, "refuse-upgrade:status=503", "stdout-stderr", "optimist"},
	{faults.Streaming, "refuse-upgrade:status=429,body=slow down", "stdout-stderr", "optimist"},
	{faults.APIServer, "protocols:websocket=", "stdout-stderr", "no-fallback"},
	{faults.Kubelet, "protocols:websocket=", "stdout-stderr", "no-fallback"},
	{faults.APIServer, "close-after:bytes=0", "attach", "ignores-close"},
	{faults.Streaming, "close-after:bytes=1,stream=stdout", "attach", "ignores-close"},
	{faults.Kubelet, "reset-after:bytes=0", "attach", "ignores-close"},
	{faults.APIServer, "stall:stream=stdout", "cancel", "ignores-cancel"},
	{faults.Runtime, "cri-error:code=Unavailable,message=runtime on fire", "stdout-stderr", "optimist"},
	{faults.Runtime, "cri-error:rpc=Attach,code=NotFound,message=no such container", "attach", "optimist"},
	{faults.Runtime, "streaming-url:form=relative", "stdout-stderr", "optimist"},
	{faults.Runtime, "streaming-url:form=schemeless", "stdout-stderr", "optimist"},
	{faults.Streaming, "token-expiry", "stdout-stderr", "optimist"},
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
			check(t, s, &f, sc.cse, nil, true)
			broken, err := brokenclients.New(sc.broken, s.RESTConfig())
			if err != nil {
				t.Fatal(err)
			}
			check(t, s, &f, sc.cse, broken, false)
		})
	}
	for _, spec := range faults.Table {
		if !covered[spec.Name] {
			t.Errorf("fault %s has no scenario", spec.Name)
		}
	}
}

// check runs one case under fault f with client (nil: the suite's own)
// and wants it to pass, or to fail, in every column.
func check(t *testing.T, s *execlabtest.Stack, f *faults.Fault, cse string, client conformance.Client, pass bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	r, err := conformance.Run(ctx, conformance.Options{Config: s.RESTConfig(), Client: client, Fault: f, Cases: []string{cse}})
	if err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	r.WriteTable(&table)
	for _, res := range r.Results {
		if (res.Outcome == conformance.Pass) != pass {
			t.Errorf("%s under %s with %s: %s %s; want pass %v\n%s", cse, f, r.Client, res.Protocol, res.Outcome, pass, table.String())
		}
	}
}

// TestKill kills the kubelet, then the runtime, under an attach session
// (the harness's fault, kill): the suite's own client ends the session at
// once, the one that ignores the server's close does not. Each component
// is started again for the suite to delete its pods.
func TestKill(t *testing.T) {
	kill := faults.Fault{Name: "kill"}
	for _, component := range []string{"kubelet", "cri"} {
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
				var cl conformance.Client
				if client != "" {
					var err error
					if cl, err = brokenclients.New(client, s.RESTConfig()); err != nil {
						t.Fatal(err)
					}
				}
				stop := killUnderAttach(t, s, c)
				check(t, s, &kill, "attach", cl, client == "")
				stop()
			}
		})
	}
}

// killUnderAttach kills c, and starts it again, each time an attach
// session runs on s; the returned func stops it.
func killUnderAttach(t *testing.T, s *execlabtest.Stack, c *execlabtest.Component) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		killed := map[string]bool{}
		for ctx.Err() == nil {
			time.Sleep(100 * time.Millisecond)
			for _, sess := range runningAttaches(ctx, s) {
				if killed[sess] {
					continue
				}
				killed[sess] = true
				c.Kill()
				if err := s.Restart(ctx, c); err != nil && ctx.Err() == nil {
					t.Errorf("restart %s: %v", c.Name, err)
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// runningAttaches are the trace IDs of the attach sessions the apiserver
// shows running.
func runningAttaches(ctx context.Context, s *execlabtest.Stack) []string {
	body, err := s.Client().CoreV1().RESTClient().Get().AbsPath(tracing.UIPath, "api/sessions").DoRaw(ctx)
	if err != nil {
		return nil
	}
	var list []tracing.Session
	if json.Unmarshal(body, &list) != nil {
		return nil
	}
	var ids []string
	for _, sess := range list {
		if sess.Running && sess.Kind == "attach" {
			ids = append(ids, sess.TraceID)
		}
	}
	sort.Strings(ids)
	return ids
}
