package minikubectl

import (
	"testing"

	"github.com/execlab/execlab/pkg/tracing"
)

// TestSessionSpans: --trace waits until the session span of each hop is
// in, not merely a span of the hop (the apiserver's span of the GET of the
// pod comes long before its session span).
func TestSessionSpans(t *testing.T) {
	span := func(hop, session string) tracing.Span {
		attrs := map[string]string{string(tracing.AttrHop): hop}
		if session != "" {
			attrs[string(tracing.AttrSession)] = session
		}
		return tracing.Span{Attrs: attrs}
	}
	hops := []string{tracing.HopAPIServer, tracing.HopKubelet, tracing.HopStreaming}
	early := []tracing.Span{span(tracing.HopAPIServer, ""), span(tracing.HopStreaming, "exec"), span(tracing.HopKubelet, "exec")}
	if sessionSpans(early, hops...) {
		t.Error("done without the apiserver's session span")
	}
	if !sessionSpans(append(early, span(tracing.HopAPIServer, "exec")), hops...) {
		t.Error("not done with every hop's session span")
	}
}
