package rpcerr

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestNoViolationsIsNoError(t *testing.T) {
	var v Violations
	if err := v.Err(); err != nil {
		t.Fatalf("Err() = %v, want nil", err)
	}
}

func TestViolationsBecomeBadRequestDetails(t *testing.T) {
	var v Violations
	v.Add("sku", "is required")
	v.Add("quantity", "must be from 1 to 1000, got 0")
	st := status.Convert(v.Err())
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v, want InvalidArgument", st.Code())
	}
	if st.Message() != "sku: is required; quantity: must be from 1 to 1000, got 0" {
		t.Errorf("message = %q", st.Message())
	}
	details := st.Details()
	if len(details) != 1 {
		t.Fatalf("details = %v, want one BadRequest", details)
	}
	br, ok := details[0].(*errdetails.BadRequest)
	if !ok || len(br.GetFieldViolations()) != 2 || br.GetFieldViolations()[1].GetField() != "quantity" {
		t.Errorf("BadRequest = %v", details[0])
	}
}
