package tracing

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"go.opentelemetry.io/otel/trace"

	"github.com/execlab/execlab/internal/testutil"
)

// TestUIInBrowser opens the live view in headless Chromium: a running
// session shows with its bytes moving, and once its spans arrive, its
// hops, protocol and exit code show in the diagram.
func TestUIInBrowser(t *testing.T) {
	store := NewStore(0)
	srv := httptest.NewServer(store.UI())
	// Cleanups run last first: the browser, and its event stream, go before the server.
	t.Cleanup(srv.Close)
	ctx := testutil.Browser(t)

	api, err := New(Config{Service: "fake-apiserver", Sink: store})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Shutdown(context.Background())
	_, root := api.Tracer().Start(context.Background(), "POST /api/v1/namespaces/{:namespace}/pods/{:name}/exec",
		trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(AttrHop.String(HopAPIServer), AttrSession.String("exec"), AttrNamespace.String("default"), AttrPod.String("demo"), AttrCommand.String("cat")))
	id := root.SpanContext().TraceID().String()
	live := &Live{TraceID: id, Kind: "exec", Namespace: "default", Pod: "demo", Command: "cat", Start: time.Now()}
	store.Begin(live)

	row := `#sessions tr[data-trace="` + id + `"]`
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+UIPath), chromedp.WaitVisible(row)); err != nil {
		t.Fatalf("the running session never showed: %v", err)
	}
	live.In.Add(3 << 20)
	testutil.WaitText(t, ctx, row+" td.bytes", "3.0 MiB / 0 B")
	testutil.WaitText(t, ctx, row+" td.state", "running")

	root.AddEvent(PhaseUpgraded, trace.WithAttributes(AttrFrom.String(HopKubelet), AttrProtocol.String("v5.channel.k8s.io"), AttrTransport.String("websocket")))
	root.SetAttributes(AttrProtocol.String("v5.channel.k8s.io"), AttrTransport.String("websocket"), AttrBytesIn.Int64(3<<20), AttrBytesOut.Int64(3<<20), AttrExitCode.Int(7))
	root.End()
	live.End()

	testutil.WaitText(t, ctx, row+" td.state", "exit 7")
	testutil.Click(t, ctx, row)
	testutil.WaitText(t, ctx, "#protocol", "v5.channel.k8s.io over websocket")
	testutil.WaitText(t, ctx, "#bytes", "3.0 MiB / 3.0 MiB")
	testutil.WaitText(t, ctx, "#exit-code", "exit 7")
	lanes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#sequence g.hop")].map(g => g.dataset.hop)`))
	if err != nil || strings.Join(lanes, ",") != "client,apiserver,kubelet,runtime,streaming" {
		t.Errorf("lanes %v (%v)", lanes, err)
	}
	labels, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#sequence g.step text.label")].map(t => t.textContent)`))
	if err != nil || len(labels) != 3 || labels[1] != "upgraded v5.channel.k8s.io websocket" {
		t.Errorf("steps %q (%v)", labels, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	testutil.Artifact(t, "ui-synthetic.png", png)
}
