package obs

import (
	"strings"

	"google.golang.org/grpc/codes"
)

// codeName spells codes the way the Python service logs them (grpc.StatusCode names), so one log
// query finds a code in both services: INVALID_ARGUMENT, not InvalidArgument.
func codeName(c codes.Code) string {
	if c == codes.Canceled {
		return "CANCELLED"
	}
	var b strings.Builder
	prevLower := false
	for _, r := range c.String() {
		upper := r >= 'A' && r <= 'Z'
		if upper && prevLower {
			b.WriteByte('_')
		}
		b.WriteRune(r)
		prevLower = !upper
	}
	return strings.ToUpper(b.String())
}

// isServerFault says whether a code means this service (or one it depends on) failed, rather than
// the caller asking for something wrong; those calls are logged at error level.
func isServerFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.Internal, codes.Unavailable, codes.DataLoss, codes.DeadlineExceeded, codes.Unimplemented:
		return true
	}
	return false
}
