package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// ExportInterval is how long a finished span may wait before it is
// exported: short, so that the live view follows a session as it goes
// (the SDK's default is 5 s).
const ExportInterval = 100 * time.Millisecond

// Config says how a component traces.
type Config struct {
	// Service is the component's service.name: fake-apiserver,
	// fake-kubelet, fake-cri, mini-kubectl.
	Service string
	// Endpoint is the base URL of an OTLP/HTTP collector, such as
	// http://127.0.0.1:4318 (a Jaeger all-in-one, or the apiserver's
	// receiver): spans go to Endpoint/v1/traces. Empty exports none, but
	// to Sink.
	Endpoint string
	// Sink, when set, receives every span in process: the apiserver's
	// Store.
	Sink sdktrace.SpanExporter
}

// Provider is one component's tracing. A nil *Provider traces nothing, so
// that a component built without tracing needs no special case.
type Provider struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
}

// New starts a component's tracing. Every request a component serves is
// traced, and what it calls on that request's behalf (kube-apiserver
// samples none by default; here the point is to see each exec); a call
// made on nobody's behalf, such as the kubelet's sync loop asking the
// runtime for its containers every second, is not.
func New(cfg Config) (*Provider, error) {
	if cfg.Service == "" {
		return nil, errors.New("tracing: a service name is required")
	}
	opts := []sdktrace.TracerProviderOption{
		sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(cfg.Service))),
		sdktrace.WithSampler(sdktrace.ParentBased(servedOnly{})),
	}
	if cfg.Endpoint != "" {
		u, err := url.Parse(cfg.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("tracing endpoint %q: want an OTLP/HTTP base URL such as http://127.0.0.1:4318", cfg.Endpoint)
		}
		exp, err := otlptracehttp.New(context.Background(),
			otlptracehttp.WithEndpointURL(u.JoinPath("v1", "traces").String()),
			otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		if err != nil {
			return nil, fmt.Errorf("tracing endpoint %q: %w", cfg.Endpoint, err)
		}
		opts = append(opts, sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(ExportInterval)))
	}
	if cfg.Sink != nil {
		opts = append(opts, sdktrace.WithBatcher(cfg.Sink, sdktrace.WithBatchTimeout(ExportInterval)))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return &Provider{tp: tp, tracer: tp.Tracer("github.com/execlab/execlab")}, nil
}

// servedOnly samples a trace that starts with a request served (or an
// internal span, such as a client's own command), not one that starts
// with an outgoing call.
type servedOnly struct{}

func (servedOnly) ShouldSample(p sdktrace.SamplingParameters) sdktrace.SamplingResult {
	if p.Kind == trace.SpanKindClient || p.Kind == trace.SpanKindProducer {
		return sdktrace.NeverSample().ShouldSample(p)
	}
	return sdktrace.AlwaysSample().ShouldSample(p)
}

func (servedOnly) Description() string { return "ServedOnly" }

// Tracer creates the component's spans.
func (p *Provider) Tracer() trace.Tracer {
	if p == nil {
		return noop.NewTracerProvider().Tracer("")
	}
	return p.tracer
}

// TracerProvider is for instrumentation libraries (otelgrpc, otelhttp).
func (p *Provider) TracerProvider() trace.TracerProvider {
	if p == nil {
		return noop.NewTracerProvider()
	}
	return p.tp
}

// Shutdown exports what is pending and stops.
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil {
		return nil
	}
	return p.tp.Shutdown(ctx)
}

// Propagator carries W3C trace context (the traceparent header, and gRPC
// metadata of the same name) from hop to hop.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}
