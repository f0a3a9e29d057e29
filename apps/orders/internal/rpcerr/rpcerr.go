// Package rpcerr builds gRPC errors that carry google.rpc details, so a client in any language can
// read which field was wrong without parsing the message.
package rpcerr

import (
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Violations collects what is wrong with a request, field by field.
type Violations []*errdetails.BadRequest_FieldViolation

// Add records that field is wrong, and why.
func (v *Violations) Add(field, description string) {
	*v = append(*v, &errdetails.BadRequest_FieldViolation{Field: field, Description: description})
}

// Err is nil when nothing was added, else INVALID_ARGUMENT listing every violation.
func (v Violations) Err() error {
	if len(v) == 0 {
		return nil
	}
	parts := make([]string, len(v))
	for i, f := range v {
		parts[i] = f.GetField() + ": " + f.GetDescription()
	}
	st := status.New(codes.InvalidArgument, strings.Join(parts, "; "))
	withDetails, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: v})
	if err != nil { // only if the detail cannot be marshalled; the plain status still says it all
		return st.Err()
	}
	return withDetails.Err()
}
