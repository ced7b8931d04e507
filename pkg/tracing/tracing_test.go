package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// TestOneTraceAcrossComponents: a "kubelet" exporting over OTLP/HTTP to
// the store's receiver and an "apiserver" exporting in process end up in
// one trace, which the timeline draws in order across the hops.
func TestOneTraceAcrossComponents(t *testing.T) {
	store := NewStore(0)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: store.Receiver("", slog.Default())}
	go srv.Serve(lis)
	defer srv.Close()

	api, err := New(Config{Service: "fake-apiserver", Sink: store})
	if err != nil {
		t.Fatal(err)
	}
	kubelet, err := New(Config{Service: "fake-kubelet", Endpoint: "http://" + lis.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}

	ctx, root := api.Tracer().Start(context.Background(), "POST /api/v1/namespaces/{:namespace}/pods/{:name}/exec",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(AttrHop.String(HopAPIServer), AttrSession.String("exec"), AttrPod.String("demo"), AttrNamespace.String("default"), AttrCommand.String("echo hello")))
	root.AddEvent(PhaseAuthenticated, trace.WithAttributes(AttrUser.String("admin")))
	root.AddEvent(PhaseKubeletDialled, trace.WithAttributes(AttrTo.String(HopKubelet), AttrURL.String("https://127.0.0.1:10250/exec/default/demo/main")))

	// The traceparent crosses the hop as a header.
	h := http.Header{}
	Propagator.Inject(ctx, propagation.HeaderCarrier(h))
	kctx := Propagator.Extract(context.Background(), propagation.HeaderCarrier(h))
	kctx, ks := kubelet.Tracer().Start(kctx, "exec default/demo/main", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(AttrHop.String(HopKubelet)))
	ks.AddEvent(PhaseCRIExec, trace.WithAttributes(AttrFrom.String(HopRuntime), AttrURL.String("http://127.0.0.1:3/exec/********")))
	ks.End()
	_ = kctx
	root.AddEvent(PhaseUpgraded, trace.WithAttributes(AttrFrom.String(HopKubelet), AttrProtocol.String("v4.channel.k8s.io"), AttrTransport.String("spdy")))
	root.SetAttributes(AttrBytesIn.Int64(0), AttrBytesOut.Int64(6), AttrExitCode.Int(0))
	root.End()

	if err := api.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := kubelet.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	id := root.SpanContext().TraceID().String()
	spans, running := store.Trace(id)
	if len(spans) != 2 || running {
		t.Fatalf("trace %s: %d spans (running %v), want 2 ended", id, len(spans), running)
	}
	if spans[1].Service != "fake-kubelet" || spans[1].ParentID != root.SpanContext().SpanID().String() {
		t.Errorf("kubelet span %+v: not the apiserver span's child", spans[1])
	}

	var text bytes.Buffer
	if err := WriteText(&text, Timeline(spans)); err != nil {
		t.Fatal(err)
	}
	// Times vary; the rest is exact.
	var got []string
	for _, line := range strings.Split(strings.TrimRight(text.String(), "\n"), "\n") {
		got = append(got, line[12:])
	}
	want := []string{
		"  client    apiserver   kubelet    runtime   streaming",
		"     │─────────▶│          │          │          │  POST /api/v1/namespaces/{:namespace}/pods/{:name}/exec",
		"     │          ●          │          │          │  authenticated admin",
		"     │          │─────────▶│          │          │  kubelet dialled https://127.0.0.1:10250/exec/default/demo/main",
		"     │          │─────────▶│          │          │  exec default/demo/main",
		"     │          │          │◀─────────│          │  CRI Exec answered http://127.0.0.1:3/exec/********",
		"     │          │◀─────────│          │          │  upgraded v4.channel.k8s.io spdy",
		"     │          ●          │          │          │  closed code 0 in 0 B, out 6 B",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagram:\n%s\nwant (after the times):\n%s", text.String(), strings.Join(want, "\n"))
	}

	sessions := store.Sessions()
	if len(sessions) != 1 || sessions[0].Kind != "exec" || sessions[0].ExitCode != "0" || sessions[0].BytesOut != 6 ||
		strings.Join(sessions[0].Hops, ",") != "apiserver,kubelet" {
		t.Errorf("sessions = %+v", sessions)
	}
}

func TestLogHandlerAddsTraceID(t *testing.T) {
	p, err := New(Config{Service: "x"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	ctx, span := p.Tracer().Start(context.Background(), "s")
	log.InfoContext(ctx, "with a span")
	log.Info("without")
	span.End()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if want := "trace_id=" + span.SpanContext().TraceID().String(); !strings.Contains(lines[0], want) || !strings.Contains(lines[0], "component=test") {
		t.Errorf("line with a span: %q, want %q", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line without a span: %q", lines[1])
	}
}

// TestLiveSession: a session begun shows as running with moving byte
// counts, and as ended after End.
func TestLiveSession(t *testing.T) {
	store := NewStore(0)
	changed, cancel := store.Subscribe()
	defer cancel()
	l := &Live{TraceID: "abc", Kind: "exec", Pod: "demo", Start: time.Now()}
	store.Begin(l)
	<-changed
	l.Out.Add(42)
	s := store.Sessions()
	if len(s) != 1 || !s[0].Running || s[0].BytesOut != 42 {
		t.Fatalf("running: %+v", s)
	}
	l.End()
	<-changed
	if s := store.Sessions(); len(s) != 0 {
		t.Errorf("after End with no spans: %+v", s)
	}
	_ = attribute.Key("")
}

func TestRequestAttrMasks(t *testing.T) {
	r := httptest.NewRequest("POST", "http://127.0.0.1:3/exec/AbCd1234", nil)
	r.Header.Set("Authorization", "Bearer secret")
	r.Header.Set("X-Stream-Protocol-Version", "v4.channel.k8s.io")
	want := "POST /exec/******** HTTP/1.1\nAuthorization: Bearer <masked>\nHost: 127.0.0.1:3\nX-Stream-Protocol-Version: v4.channel.k8s.io\n"
	if got := RequestAttr(r).Value.AsString(); got != want {
		t.Errorf("RequestAttr:\n%s\nwant:\n%s", got, want)
	}
	// The kubelet's path is no token.
	r = httptest.NewRequest("POST", "https://127.0.0.1:10250/exec/default/demo/main?command=true&output=1", nil)
	if got := RequestAttr(r).Value.AsString(); !strings.HasPrefix(got, "POST /exec/default/demo/main?command=true&output=1 HTTP/1.1\n") {
		t.Errorf("RequestAttr of the kubelet's path: %q", got)
	}
	var out bytes.Buffer
	spans := []Span{{Attrs: map[string]string{string(AttrHop): HopKubelet, string(AttrRequest): "POST /x HTTP/1.1\nA: b\n"},
		Events: []Event{{Name: PhaseUpgraded, Attrs: map[string]string{string(AttrResponse): "HTTP/1.1 101 Switching Protocols\n"}}}}}
	if err := WriteHeaders(&out, spans); err != nil || out.String() != "\n== kubelet received\nPOST /x HTTP/1.1\nA: b\n-- kubelet answered\nHTTP/1.1 101 Switching Protocols\n" {
		t.Errorf("WriteHeaders: %q, %v", out.String(), err)
	}
}
