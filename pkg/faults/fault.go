package faults

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
)

// Fault is one fault of the Table with its parameters, as written
// NAME[:param=value,...] (Parse, String).
type Fault struct {
	Name string
	// Params holds the parameters given; the others take their defaults.
	Params map[string]string
}

// Syntax is how a fault is written, for flags' help.
const Syntax = "NAME[:param=value,...], repeatable; NAME from the table of faults in docs/testing.md (pkg/faults), such as upgrade-delay:d=2s"

// Parse reads NAME[:param=value,...]: a fault of the Table with known
// parameters, each value of its kind. A harness fault (kill) is no
// component's to apply and does not parse.
func Parse(s string) (Fault, error) {
	name, rest, hasParams := strings.Cut(s, ":")
	spec, ok := Lookup(name)
	if !ok {
		return Fault{}, fmt.Errorf("fault %q: no such fault (see pkg/faults): %s", s, strings.Join(names(), ", "))
	}
	if spec.Harness {
		return Fault{}, fmt.Errorf("fault %q: the harness applies %s, not a flag: pkg/execlabtest's Component.Kill, or SIGKILL to the process", s, name)
	}
	f := Fault{Name: name, Params: map[string]string{}}
	if !hasParams {
		return f, nil
	}
	for _, kv := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Fault{}, fmt.Errorf("fault %q: %q is no param=value", s, kv)
		}
		p, ok := spec.param(k)
		if !ok {
			return Fault{}, fmt.Errorf("fault %q: %s has no parameter %q", s, name, k)
		}
		if _, dup := f.Params[k]; dup {
			return Fault{}, fmt.Errorf("fault %q: %s given twice", s, k)
		}
		if err := p.check(v); err != nil {
			return Fault{}, fmt.Errorf("fault %q: %s: %w", s, k, err)
		}
		f.Params[k] = v
	}
	return f, nil
}

// MustParse is Parse for faults written in code; it panics on a bad one.
func MustParse(s string) Fault {
	f, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return f
}

func names() []string {
	var ns []string
	for _, s := range Table {
		if !s.Harness {
			ns = append(ns, s.Name)
		}
	}
	return ns
}

// check reads v as the parameter's kind.
func (p Param) check(v string) error {
	switch p.kind {
	case kindDuration:
		d, err := time.ParseDuration(v)
		if err == nil && d < 0 {
			err = fmt.Errorf("negative duration %s", v)
		}
		return err
	case kindBytes:
		n, err := strconv.ParseInt(v, 10, 64)
		if err == nil && n < 0 {
			err = fmt.Errorf("negative count %d", n)
		}
		return err
	case kindStatus:
		n, err := strconv.Atoi(v)
		if err == nil && (n < 100 || n > 599) {
			err = fmt.Errorf("%d is no HTTP status", n)
		}
		return err
	case kindEnum:
		if words := p.words(); !slices.Contains(words, v) {
			return fmt.Errorf("%q: want one of %s", v, strings.Join(words, ", "))
		}
	case kindCode:
		if _, ok := grpcCode(v); !ok {
			return fmt.Errorf("%q is no gRPC code name, such as Unavailable or NotFound", v)
		}
	}
	return nil
}

// words are the values an enum parameter takes: the Doc's backquoted words.
func (p Param) words() []string {
	var ws []string
	for i, part := range strings.Split(p.Doc, "`") {
		if i%2 == 1 {
			ws = append(ws, part)
		}
	}
	return ws
}

func grpcCode(name string) (codes.Code, bool) {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c, true
		}
	}
	return 0, false
}

// String writes the fault as Parse reads it, parameters in the Table's
// order.
func (f Fault) String() string {
	spec, _ := Lookup(f.Name)
	var kvs []string
	for _, p := range spec.Params {
		if v, ok := f.Params[p.Name]; ok {
			kvs = append(kvs, p.Name+"="+v)
		}
	}
	if len(kvs) == 0 {
		return f.Name
	}
	return f.Name + ":" + strings.Join(kvs, ",")
}

// Spec is the fault's row of the Table.
func (f Fault) Spec() Spec {
	s, _ := Lookup(f.Name)
	return s
}

// param is the value of a parameter: given, or the default.
func (f Fault) param(name string) string {
	if v, ok := f.Params[name]; ok {
		return v
	}
	p, _ := f.Spec().param(name)
	return p.Default
}

// isSet reports whether the parameter was given (for those whose absence
// means "no restriction").
func (f Fault) isSet(name string) bool {
	_, ok := f.Params[name]
	return ok
}

func (f Fault) duration(name string) time.Duration {
	d, _ := time.ParseDuration(f.param(name))
	return d
}

func (f Fault) bytes(name string) int64 {
	n, _ := strconv.ParseInt(f.param(name), 10, 64)
	return n
}

func (f Fault) list(name string) []string {
	v := f.param(name)
	if v == "" {
		return nil
	}
	return strings.Split(v, "|")
}

// Expect is what a correct client sees of a session the fault meets: the
// Spec's, but a refusal of WebSocket alone is met by falling back.
func (f Fault) Expect() Expect {
	if f.Name == "refuse-upgrade" && f.param("transport") == "websocket" {
		return Normal
	}
	return f.Spec().Expect
}

// Message is what a client's error says of a session the fault refuses
// (Expect Refused): a part of the server's message.
func (f Fault) Message() string {
	switch f.Name {
	case "refuse-upgrade":
		if body := f.param("body"); body != "" {
			return body
		}
		return refusalMessage
	case "cri-error":
		return f.param("message")
	case "streaming-url":
		return "streaming URL"
	case "token-expiry":
		return "unknown, used or expired streaming token"
	}
	return ""
}

// refusalMessage is the message of refuse-upgrade's Status, with no body.
const refusalMessage = "upgrade refused by fault refuse-upgrade"

// status is refuse-upgrade's status code.
func (f Fault) status() int {
	n, _ := strconv.Atoi(f.param("status"))
	if n == 0 {
		return http.StatusServiceUnavailable
	}
	return n
}

// Set is the faults put at one component; the zero value is none.
type Set []Fault

// String is the faults as flags write them, comma-free: one per --fault.
func (s Set) String() string {
	parts := make([]string, len(s))
	for i, f := range s {
		parts[i] = f.String()
	}
	return strings.Join(parts, " ")
}

// Set parses one more fault: Set is a flag.Value for a repeatable --fault.
func (s *Set) Set(v string) error {
	f, err := Parse(v)
	if err != nil {
		return err
	}
	*s = append(*s, f)
	return nil
}

// At returns the faults of s that apply at hop.
func (s Set) At(hop Hop) Set {
	var out Set
	for _, f := range s {
		if f.Spec().At(hop) {
			out = append(out, f)
		}
	}
	return out
}

// Check fails unless every fault of s can be put at one of hops (a
// component serves one hop, fake-cri two).
func (s Set) Check(hops ...Hop) error {
	for _, f := range s {
		if !slices.ContainsFunc(hops, f.Spec().At) {
			return fmt.Errorf("fault %s: not at %v: it applies at %v", f, hops, f.Spec().Hops)
		}
	}
	return nil
}

// named returns the faults of s with that name.
func (s Set) named(name string) Set {
	var out Set
	for _, f := range s {
		if f.Name == name {
			out = append(out, f)
		}
	}
	return out
}

// TokenTTL is the tokens' life that token-expiry sets, if it is in s.
func (s Set) TokenTTL() (time.Duration, bool) {
	for _, f := range s.named("token-expiry") {
		return f.duration("after"), true
	}
	return 0, false
}
