package obs

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// NewLogger writes JSON lines to w with the pod's identity on each, so Loki can be queried by pod
// and namespace without relabelling. The field names match the inventory service's.
func NewLogger(w io.Writer, level, app, pod, namespace string) *slog.Logger {
	var l slog.Level
	switch strings.ToLower(level) {
	case "debug":
		l = slog.LevelDebug
	case "warn", "warning":
		l = slog.LevelWarn
	case "error":
		l = slog.LevelError
	default:
		l = slog.LevelInfo
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: l,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.LevelKey {
				return slog.String(slog.LevelKey, strings.ToLower(a.Value.String()))
			}
			return a
		},
	})
	return slog.New(h).With("app", app, "pod", pod, "namespace", namespace)
}

// Calls logs one line per call (method, code, duration, request id, and the trace id when the
// call is traced) and puts the request id in
// the context and the response headers. It goes first in the chain, so the other interceptors and
// the handler see the id.
type Calls struct{ Log *slog.Logger }

func (c Calls) begin(ctx context.Context) context.Context {
	id := incomingRequestID(ctx)
	// Echoed so a client that sent none can still quote it when reporting a problem.
	_ = grpc.SetHeader(ctx, metadata.Pairs(RequestIDHeader, id))
	return WithRequestID(ctx, id)
}

func (c Calls) end(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	attrs := []any{
		"method", method,
		"code", codeName(code),
		"duration_ms", float64(time.Since(start).Microseconds()) / 1000,
		"request_id", RequestID(ctx),
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		attrs = append(attrs, "trace_id", sc.TraceID().String())
	}
	level := slog.LevelInfo
	if isServerFault(code) {
		level = slog.LevelError
		attrs = append(attrs, "error", err.Error())
	}
	c.Log.Log(ctx, level, "rpc", attrs...)
}

// Unary is the interceptor for unary calls.
func (c Calls) Unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	ctx = c.begin(ctx)
	resp, err := handler(ctx, req)
	c.end(ctx, info.FullMethod, start, err)
	return resp, err
}

// Stream is the interceptor for streaming calls.
func (c Calls) Stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	ctx := c.begin(ss.Context())
	err := handler(srv, &contextStream{ServerStream: ss, ctx: ctx})
	c.end(ctx, info.FullMethod, start, err)
	return err
}

type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *contextStream) Context() context.Context { return s.ctx }
