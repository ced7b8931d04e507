// Package tracing makes one exec visible across every hop: it gives each
// component an OpenTelemetry tracer that carries W3C trace context (as
// kube-apiserver's APIServerTracing and the kubelet's KubeletTracing do),
// puts the trace ID into the component's log lines, and, in the apiserver,
// keeps the recent traces for the live view at /ui/ and for
// `mini-kubectl exec --trace`.
//
// Spans are per session and per phase, never per frame: a session is one
// span at each hop, its phases (authenticated, upgraded, exited…) are span
// events, and byte counts are attributes set once, when it ends. The data
// path only adds to counters.
//
// The apiserver is also a small OTLP/HTTP collector on a loopback port (as
// a Jaeger all-in-one listens on 4318): the kubelet and the runtime export
// their spans to it, and it forwards everything to a learner's own
// collector when one is configured. The files:
//
//	phases.go    the names every hop uses: phases, attributes, hops (one table)
//	provider.go  a component's tracer: OTLP export, W3C propagation
//	log.go       LogHandler: trace_id and span_id in every slog line with a span
//	propagate.go traceparent into forwarded requests, made ones, and dialled ones
//	hop.go       Hop: a session at a proxy hop, its bytes and its upgrade answer
//	span.go      Span: one span as the view keeps it, from the SDK or from OTLP
//	store.go     Store: the recent traces, sessions running and ended, updates
//	receiver.go  the OTLP/HTTP receiver (/v1/traces), forwarding to a collector
//	timeline.go  a trace as steps between hops, in time order
//	text.go      the timeline as a text sequence diagram (--trace, make demo)
//	ui.go        the live view: /ui/, its JSON API and server-sent events
//
// Upstream counterparts: k8s.io/component-base/tracing (tracer provider and
// the apiserver's filter), k8s.io/apiserver/pkg/endpoints/filters/traces.go,
// the kubelet's otelgrpc client options in pkg/kubelet/cri/remote.
package tracing
