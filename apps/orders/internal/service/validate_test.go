package service

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
)

func TestPageTokensRoundTrip(t *testing.T) {
	for _, seq := range []int64{0, 1, 987654321} {
		got, err := decodeToken(encodeToken(seq))
		if err != nil || got != seq {
			t.Errorf("decodeToken(encodeToken(%d)) = %d, %v", seq, got, err)
		}
	}
	for _, bad := range []string{"garbage!", "djE6", "djE6LTE=", "eDox"} { // not base64, "v1:", "v1:-1", "x:1"
		if _, err := decodeToken(bad); err == nil {
			t.Errorf("decodeToken(%q) accepted a token this service never issues", bad)
		}
	}
}

func TestParseListDefaultsAndBounds(t *testing.T) {
	size, after, err := parseList(0, "")
	if err != nil || size != defaultPageSize || after != 0 {
		t.Errorf("parseList(0, \"\") = %d, %d, %v", size, after, err)
	}
	if _, _, err := parseList(maxPageSize+1, ""); status.Code(err) != codes.InvalidArgument {
		t.Errorf("page size above the maximum: %v", err)
	}
}

func TestCheckCreateAcceptsAGoodRequest(t *testing.T) {
	req := &ordersv1.CreateOrderRequest{RequestId: "r-1", CustomerId: "c-1", Sku: "SKU-1.a_b", Quantity: maxQuantity}
	if err := checkCreate(req); err != nil {
		t.Errorf("checkCreate(%v) = %v", req, err)
	}
	if _, err := parseID("id", "0b9d6c1e-3f1a-4d2b-9c55-2f7a8e4b1d00"); err != nil {
		t.Errorf("parseID rejected a UUID: %v", err)
	}
}
