package tracing

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestWithoutAnEndpointNothingIsExportedButTheTraceContinues(t *testing.T) {
	tr, err := Start(context.Background(), "", Identity{Service: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Exporting {
		t.Error("exporting without an endpoint")
	}
	incoming := tr.Propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	ctx, span := tr.Provider.Tracer("test").Start(incoming, "CreateOrder")
	defer span.End()
	if span.IsRecording() {
		t.Error("a span is recorded without an endpoint")
	}
	outgoing := propagation.MapCarrier{}
	tr.Propagator.Inject(ctx, outgoing)
	if got := outgoing.Get("traceparent"); got != traceparent {
		t.Errorf("traceparent passed on = %q, want the caller's %q", got, traceparent)
	}
}

func TestWithAnEndpointSpansAreRecordedInTheCallersTrace(t *testing.T) {
	// The exporter connects lazily, so no collector needs to listen for this.
	tr, err := Start(context.Background(), "http://127.0.0.1:4317", Identity{Service: "orders", Version: "1.0.0"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { // nothing listens there: give up on sending at once
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		_ = tr.Shutdown(ctx)
	}()
	if !tr.Exporting {
		t.Error("not exporting with an endpoint")
	}
	incoming := tr.Propagator.Extract(context.Background(), propagation.MapCarrier{"traceparent": traceparent})
	_, span := tr.Provider.Tracer("test").Start(incoming, "CreateOrder")
	defer span.End()
	sc := trace.SpanContextFromContext(trace.ContextWithSpan(context.Background(), span))
	if !span.IsRecording() || sc.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span recording %v in trace %s; want recorded in the caller's trace", span.IsRecording(), sc.TraceID())
	}
}
