// Package obs holds what every call goes through: request ids, JSON logs and Prometheus metrics.
package obs

import (
	"context"

	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// RequestIDHeader is the metadata key that carries a request id between services.
const RequestIDHeader = "x-request-id"

// maxRequestIDLength bounds what is copied from a caller into logs and onward calls.
const maxRequestIDLength = 128

type requestIDKey struct{}

// RequestID returns the id of the call being handled, or "" outside a call.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// incomingRequestID is the caller's x-request-id, or a new one when it sent none (or nonsense).
func incomingRequestID(ctx context.Context) string {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if values := md.Get(RequestIDHeader); len(values) > 0 && values[0] != "" && len(values[0]) <= maxRequestIDLength {
			return values[0]
		}
	}
	return uuid.NewString()
}

// PropagateRequestID is a client interceptor that forwards the current call's request id, so one
// id follows a request from orders into inventory and shows in both services' logs.
func PropagateRequestID(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if id := RequestID(ctx); id != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, RequestIDHeader, id)
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}
