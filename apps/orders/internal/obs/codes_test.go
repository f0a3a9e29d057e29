package obs

import (
	"testing"

	"google.golang.org/grpc/codes"
)

func TestCodeNamesMatchPython(t *testing.T) {
	want := map[codes.Code]string{
		codes.OK:                 "OK",
		codes.Canceled:           "CANCELLED",
		codes.InvalidArgument:    "INVALID_ARGUMENT",
		codes.FailedPrecondition: "FAILED_PRECONDITION",
		codes.DeadlineExceeded:   "DEADLINE_EXCEEDED",
		codes.NotFound:           "NOT_FOUND",
		codes.Unavailable:        "UNAVAILABLE",
	}
	for code, name := range want {
		if got := codeName(code); got != name {
			t.Errorf("codeName(%v) = %q, want %q", code, got, name)
		}
	}
}
