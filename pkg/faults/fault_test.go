package faults

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"upgrade-delay", "upgrade-delay"},
		{"upgrade-delay:d=1500ms", "upgrade-delay:d=1500ms"},
		{"close-after:stream=stdout,bytes=10", "close-after:bytes=10,stream=stdout"},
		{"protocols:websocket=", "protocols:websocket="},
		{"protocols:spdy=v4.channel.k8s.io|v3.channel.k8s.io", "protocols:spdy=v4.channel.k8s.io|v3.channel.k8s.io"},
		{"cri-error:code=NotFound,message=gone", "cri-error:code=NotFound,message=gone"},
		{"refuse-upgrade:status=400,transport=websocket", "refuse-upgrade:status=400,transport=websocket"},
	} {
		f, err := Parse(tc.in)
		if err != nil || f.String() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, f, err, tc.want)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"nope", "no such fault"},
		{"kill", "the harness applies kill"},
		{"upgrade-delay:x=1", `has no parameter "x"`},
		{"upgrade-delay:d", `"d" is no param=value`},
		{"upgrade-delay:d=soon", "invalid duration"},
		{"upgrade-delay:d=-1s", "negative duration"},
		{"upgrade-delay:d=1s,d=2s", "d given twice"},
		{"close-after:bytes=-1", "negative count"},
		{"close-after:stream=stdcat", "want one of stdin, stdout"},
		{"refuse-upgrade:status=99", "99 is no HTTP status"},
		{"cri-error:code=Nope", "no gRPC code name"},
		{"cri-error:rpc=ExecSync", "want one of Exec, Attach, PortForward"},
	} {
		if _, err := Parse(tc.in); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", tc.in, err, tc.want)
		}
	}
}

func TestFaultParams(t *testing.T) {
	f := MustParse("stall")
	if f.param("stream") != "stdout" || f.bytes("after") != 0 {
		t.Errorf("defaults: stream %q, after %d", f.param("stream"), f.bytes("after"))
	}
	if d := MustParse("upgrade-delay").duration("d"); d != 2*time.Second {
		t.Errorf("upgrade-delay's default: %v", d)
	}
	if l := MustParse("protocols:websocket=").list("websocket"); l != nil {
		t.Errorf("an empty list: %q", l)
	}
	for _, tc := range []struct {
		fault  string
		expect Expect
		msg    string
	}{
		{"refuse-upgrade", Refused, refusalMessage},
		{"refuse-upgrade:body=go away", Refused, "go away"},
		{"refuse-upgrade:transport=websocket", Normal, refusalMessage},
		{"cri-error:message=gone", Refused, "gone"},
		{"token-expiry", Refused, "unknown, used or expired streaming token"},
		{"close-after", Cut, ""},
		{"upgrade-delay", Normal, ""},
	} {
		f := MustParse(tc.fault)
		if f.Expect() != tc.expect || f.Message() != tc.msg {
			t.Errorf("%s: expect %s %q, want %s %q", tc.fault, f.Expect(), f.Message(), tc.expect, tc.msg)
		}
	}
}

func TestSet(t *testing.T) {
	var s Set
	for _, v := range []string{"upgrade-delay:d=1s", "cri-error", "token-expiry"} {
		if err := s.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.String(); got != "upgrade-delay:d=1s cri-error token-expiry" {
		t.Errorf("String: %q", got)
	}
	if got := s.At(Runtime).String(); got != "cri-error" {
		t.Errorf("At(Runtime): %q", got)
	}
	if err := s.Check(Runtime, Streaming); err != nil {
		t.Errorf("fake-cri's hops: %v", err)
	}
	if err := s.Check(Kubelet); err == nil || !strings.Contains(err.Error(), "fault cri-error: not at [kubelet]") {
		t.Errorf("the kubelet took cri-error: %v", err)
	}
	if ttl, ok := s.TokenTTL(); !ok || ttl != 0 {
		t.Errorf("TokenTTL: %v, %v", ttl, ok)
	}
	if _, ok := Set(nil).TokenTTL(); ok {
		t.Error("no faults set a token TTL")
	}
}

// TestTableDocumented: every fault is in the package comment's map with
// its hops, so that the map cannot drift from the Table; every parameter
// has a default or says what unset means, and every row says everything.
func TestTableDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for _, s := range Table {
		hops := make([]string, len(s.Hops))
		for i, h := range s.Hops {
			hops[i] = string(h)
		}
		found := false
		for _, line := range strings.Split(doc, "\n") {
			fields := strings.Fields(line)
			if len(fields) > 1 && fields[0] == s.Name {
				found = strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), s.Name)), strings.Join(hops, ", "))
			}
		}
		if !found {
			t.Errorf("doc.go's map has no line %q with its hops %s", s.Name, strings.Join(hops, ", "))
		}
		if s.Wire == "" || s.Client == "" || s.Expect == "" || s.Catches == "" || len(s.Hops) == 0 {
			t.Errorf("%s: a column is empty: %+v", s.Name, s)
		}
		for _, p := range s.Params {
			if p.Default == "" && !strings.Contains(p.Doc, "unset") && !strings.Contains(p.Doc, "by default") {
				t.Errorf("%s: parameter %s has no default and does not say what unset means", s.Name, p.Name)
			}
		}
		if !strings.Contains(Markdown(), "| `"+s.Name+"`") {
			t.Errorf("Markdown has no row for %s", s.Name)
		}
	}
}
