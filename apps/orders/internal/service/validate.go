package service

import (
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/uuid"

	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/rpcerr"
)

// Limits shared with the inventory service's checks.
const (
	maxIDLength     = 64
	maxQuantity     = 1000
	defaultPageSize = 50
	maxPageSize     = 500
	pageTokenPrefix = "v1:"
)

var skuPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

var errBadToken = errors.New("is not a page token returned by this service")

func checkText(v *rpcerr.Violations, field, value string) {
	switch {
	case value == "":
		v.Add(field, "is required")
	case len(value) > maxIDLength:
		v.Add(field, fmt.Sprintf("must be at most %d characters", maxIDLength))
	}
}

func checkSKU(v *rpcerr.Violations, value string) {
	switch {
	case value == "":
		v.Add("sku", "is required")
	case !skuPattern.MatchString(value):
		v.Add("sku", "must be 1 to 64 letters, digits, '.', '_' or '-'")
	}
}

func checkCreate(r *ordersv1.CreateOrderRequest) error {
	var v rpcerr.Violations
	checkText(&v, "request_id", r.GetRequestId())
	checkText(&v, "customer_id", r.GetCustomerId())
	checkSKU(&v, r.GetSku())
	if q := r.GetQuantity(); q < 1 || q > maxQuantity {
		v.Add("quantity", fmt.Sprintf("must be from 1 to %d, got %d", maxQuantity, q))
	}
	return v.Err()
}

// parseID checks an order id field and returns it parsed.
func parseID(field, value string) (uuid.UUID, error) {
	var v rpcerr.Violations
	id, err := uuid.Parse(value)
	switch {
	case value == "":
		v.Add(field, "is required")
	case err != nil:
		v.Add(field, "must be an order id (a UUID such as 0b9d6c1e-3f1a-4d2b-9c55-2f7a8e4b1d00)")
	}
	return id, v.Err()
}

// parseList checks paging fields and returns the page size and the sequence number to start after.
func parseList(pageSize int32, token string) (int, int64, error) {
	var v rpcerr.Violations
	if pageSize < 0 || pageSize > maxPageSize {
		v.Add("page_size", fmt.Sprintf("must be from 0 to %d, got %d", maxPageSize, pageSize))
	}
	after, err := decodeToken(token)
	if err != nil {
		v.Add("page_token", err.Error())
	}
	if err := v.Err(); err != nil {
		return 0, 0, err
	}
	if pageSize == 0 {
		pageSize = defaultPageSize
	}
	return int(pageSize), after, nil
}

func encodeToken(seq int64) string {
	return base64.URLEncoding.EncodeToString([]byte(pageTokenPrefix + strconv.FormatInt(seq, 10)))
}

func decodeToken(token string) (int64, error) {
	if token == "" {
		return 0, nil
	}
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil || !strings.HasPrefix(string(raw), pageTokenPrefix) {
		return 0, errBadToken
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(string(raw), pageTokenPrefix), 10, 64)
	if err != nil || seq < 0 {
		return 0, errBadToken
	}
	return seq, nil
}
