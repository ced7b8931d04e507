package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/remotecommand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/execlab/execlab/pkg/faults"
)

// Protocol is a column of the table: the transport and version a case's
// sessions speak. Plain HTTP (logs) has a column of its own.
type Protocol string

const (
	HTTP        Protocol = "http"
	SPDY        Protocol = "spdy"
	WebSocketV4 Protocol = "websocket-v4"
	WebSocketV5 Protocol = "websocket-v5"
)

// Protocols are the upgraded ones, the columns --protocols chooses from.
var Protocols = []Protocol{SPDY, WebSocketV4, WebSocketV5}

// WebSocket reports whether p is a WebSocket protocol.
func (p Protocol) WebSocket() bool { return p == WebSocketV4 || p == WebSocketV5 }

// version is the subprotocol a WebSocket protocol offers.
func (p Protocol) version() string {
	if p == WebSocketV4 {
		return remotecommand.StreamProtocolV4Name
	}
	return remotecommand.StreamProtocolV5Name
}

// ParseProtocols reads a comma-separated list of protocols.
func ParseProtocols(s string) ([]Protocol, error) {
	var ps []Protocol
	for _, name := range strings.Split(s, ",") {
		p := Protocol(strings.TrimSpace(name))
		if !slices.Contains(Protocols, p) {
			return nil, fmt.Errorf("protocol %q: want %s, %s or %s", name, SPDY, WebSocketV4, WebSocketV5)
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Options say what to run against which cluster.
type Options struct {
	// Config reaches the cluster; it needs to create, get and delete pods
	// in Namespace and to exec, attach and port-forward into them.
	Config *rest.Config
	// Namespace gets the suite's pods; default "default".
	Namespace string
	// Image is the pods' image; default busybox. Its commands are sh,
	// cat, head, stty, sleep and busybox nc, as busybox has them and the
	// fake runtime finds them on the host.
	Image string
	// Protocols are the columns run; default all of Protocols.
	Protocols []Protocol
	// Cases are the cases run, by name; default all (CaseNames).
	Cases []string
	// Client drives the sessions; default NewClient(Config).
	Client Client
	// Fault, when set, is on in the cluster (pkg/faults): each case's
	// first session is held to what the fault's Expect says a correct
	// client sees, instead of to the case's own checks.
	Fault *faults.Fault
	// Execs is how many execs the execs case runs per protocol; default 1000.
	Execs int
	// BinaryBytes is how much the binary case sends each way; default 100 MiB.
	BinaryBytes int64
	// HangAfter is how long a client may take to end a session after the
	// server, a fault or its context ended it (or after its stdin ended)
	// before it is declared hung, and how long a server may take to end
	// a session its client left; default 30 s (DefaultHangAfter). A
	// correct client does either at once, but a busy machine may delay it
	// by seconds: only a run with a client known to hang, whose failures
	// are then checked to say so, should shorten it.
	HangAfter time.Duration
	// Progress, when set, gets a line per result as it comes.
	Progress io.Writer
}

func (o Options) withDefaults() (Options, error) {
	if o.Config == nil {
		return o, errors.New("conformance: no client configuration")
	}
	if o.Namespace == "" {
		o.Namespace = metav1.NamespaceDefault
	}
	if o.Image == "" {
		o.Image = "busybox"
	}
	if len(o.Protocols) == 0 {
		o.Protocols = Protocols
	}
	for _, name := range o.Cases {
		if _, ok := lookupCase(name); !ok {
			return o, fmt.Errorf("conformance: no case %q; the cases are %s", name, strings.Join(CaseNames(), ", "))
		}
	}
	if o.Execs == 0 {
		o.Execs = 1000
	}
	if o.BinaryBytes == 0 {
		o.BinaryBytes = 100 << 20
	}
	if o.HangAfter == 0 {
		o.HangAfter = DefaultHangAfter
	}
	if o.Client == nil {
		var err error
		if o.Client, err = NewClient(o.Config); err != nil {
			return o, err
		}
	}
	return o, nil
}

// Run creates the suite's pods, runs the cases, removes the pods and
// reports. An error says the suite could not run at all; failed cases are
// in the report.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	cs, err := kubernetes.NewForConfig(opts.Config)
	if err != nil {
		return nil, err
	}
	e := &env{opts: opts, clientset: cs, client: opts.Client, id: randomID()}
	report := &Report{Client: opts.Client.Name(), Protocols: opts.Protocols, start: time.Now()}
	// Every goroutine the client starts carries this label: what is left
	// of them at the end is a leak (the no-leak case).
	pprof.Do(ctx, pprof.Labels(runLabel, e.id), func(ctx context.Context) {
		err = e.run(ctx, report)
	})
	report.Duration = time.Since(report.start)
	return report, err
}

// runLabel is the pprof label of the goroutines of one run.
const runLabel = "execlab.conformance"

// env is one run: the cluster, the client and the suite's pods.
type env struct {
	opts      Options
	clientset kubernetes.Interface
	client    Client
	id        string
	pods      *suitePods
}

func (e *env) run(ctx context.Context, report *Report) error {
	pods, err := e.createPods(ctx)
	if pods != nil {
		defer e.deletePods(pods)
	}
	if err != nil {
		return err
	}
	e.pods = pods
	for _, c := range cases {
		if len(e.opts.Cases) > 0 && !slices.Contains(e.opts.Cases, c.name) {
			continue
		}
		for _, p := range c.columns(e.opts.Protocols) {
			r := e.runCase(ctx, c, p)
			report.Results = append(report.Results, r)
			if e.opts.Progress != nil {
				fmt.Fprintf(e.opts.Progress, "%-26s %-13s %s %s\n", r.Case, r.Protocol, r.Outcome, r.Reason)
			}
		}
	}
	return nil
}

// runCase runs one case in one column within its time.
func (e *env) runCase(ctx context.Context, c testCase, p Protocol) Result {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := c.run(ctx, e, p)
	r := Result{Case: c.name, Protocol: p, Duration: time.Since(start), Outcome: Pass}
	var na notApplicable
	var met expectationMet
	var note passed
	var cannot *unsupported
	switch {
	case err == nil:
	case errors.As(err, &met):
		r.Reason = string(met)
	case errors.As(err, &note):
		r.Reason = string(note)
	case errors.As(err, &na):
		r.Outcome, r.Reason = NotApplicable, string(na)
	case errors.As(err, &cannot):
		r.Outcome, r.Reason = NotApplicable, cannot.what
	case errors.Is(err, ErrUnsupported):
		r.Outcome, r.Reason = NotApplicable, err.Error()
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		r.Outcome, r.Reason = Fail, fmt.Sprintf("not done within %v: %v", c.timeout, err)
	default:
		r.Outcome, r.Reason = Fail, err.Error()
	}
	return r
}

// notApplicable says a case does not apply in a column, and why.
type notApplicable string

func (n notApplicable) Error() string { return string(n) }

// expectationMet says the case's session met the fault as a correct
// client does (Options.Fault), which ends the case: a pass.
type expectationMet string

func (m expectationMet) Error() string { return string(m) }

func randomID() string {
	b := make([]byte, 3)
	rand.Read(b)
	return hex.EncodeToString(b)
}
