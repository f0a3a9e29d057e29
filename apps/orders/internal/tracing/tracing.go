// Package tracing gives the service its OpenTelemetry tracer provider and the otelgrpc stats
// handlers built on it.
//
// W3C trace context (traceparent, tracestate) and baggage always pass through, so a trace begun
// by a caller continues into inventory even when this service exports nothing. Spans are
// exported over OTLP/gRPC only when an endpoint is configured (OTEL_EXPORTER_OTLP_ENDPOINT);
// without one the tracer is a no-op and nothing is recorded or sent.
package tracing

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc/filters"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"google.golang.org/grpc/stats"
)

// Identity names the process in every span it exports.
type Identity struct {
	Service, Version, Pod, Namespace string
}

// Tracing is the service's tracer provider and propagator.
type Tracing struct {
	Provider   trace.TracerProvider
	Propagator propagation.TextMapPropagator
	// Exporting says whether spans leave the process.
	Exporting bool
	shutdown  func(context.Context) error
}

// Start returns tracing that exports to endpoint (a URL, http:// for plain text), or a no-op
// tracer when endpoint is empty. The exporter connects lazily: an unreachable collector costs
// dropped spans, never a failed start or a failed call.
func Start(ctx context.Context, endpoint string, id Identity) (*Tracing, error) {
	t := &Tracing{
		Provider:   noop.NewTracerProvider(),
		Propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
	if endpoint == "" {
		return t, nil
	}
	exporter, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpointURL(endpoint))
	if err != nil {
		return nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	attrs := []attribute.KeyValue{
		attribute.String("service.name", id.Service),
		attribute.String("service.namespace", "meridian"),
		attribute.String("service.version", id.Version),
	}
	if id.Pod != "" {
		attrs = append(attrs, attribute.String("k8s.pod.name", id.Pod), attribute.String("service.instance.id", id.Pod))
	}
	if id.Namespace != "" {
		attrs = append(attrs, attribute.String("k8s.namespace.name", id.Namespace))
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, read last, override these.
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK(), resource.WithFromEnv())
	if err != nil {
		return nil, fmt.Errorf("OpenTelemetry resource: %w", err)
	}
	// The sampler follows OTEL_TRACES_SAMPLER; by default a span is sampled when its parent is,
	// and a trace that starts here always is.
	provider := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	t.Provider, t.Exporting, t.shutdown = provider, true, provider.Shutdown
	return t, nil
}

// Shutdown sends the spans still buffered and stops the exporter.
func (t *Tracing) Shutdown(ctx context.Context) error { return t.shutdown(ctx) }

// ServerHandler makes a span for every call the server takes, except health checks (the probes
// would drown the traces worth reading), continuing the caller's trace.
func (t *Tracing) ServerHandler() stats.Handler {
	return otelgrpc.NewServerHandler(t.options()...)
}

// ClientHandler makes a span for every outgoing call and puts its context in the metadata.
func (t *Tracing) ClientHandler() stats.Handler {
	return otelgrpc.NewClientHandler(t.options()...)
}

func (t *Tracing) options() []otelgrpc.Option {
	return []otelgrpc.Option{
		otelgrpc.WithTracerProvider(t.Provider),
		otelgrpc.WithPropagators(t.Propagator),
		otelgrpc.WithFilter(filters.Not(filters.HealthCheck())),
	}
}
