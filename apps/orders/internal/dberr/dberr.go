// Package dberr says what a PostgreSQL error means to the caller of a gRPC method: the database
// did not answer (UNAVAILABLE), the transaction lost a conflict with another one (ABORTED), or
// something is wrong here (INTERNAL). Clients retry the first two, and every write of the service
// is idempotent (request id, order id), so a retry cannot do a thing twice.
package dberr

import (
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"google.golang.org/grpc/codes"
)

// SQLSTATEs of a transaction that PostgreSQL rolled back to resolve a conflict.
const (
	serializationFailure = "40001"
	deadlockDetected     = "40P01"
)

// unreachable are SQLSTATEs of a server that is going away, starting up or out of connections, or
// of a statement or lock wait that ran out of time: nothing was done, and another try may work.
var unreachable = map[string]bool{
	"57P01": true, // admin_shutdown: the server is stopping, or the connection was terminated
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now: the server is starting or recovering
	"57P05": true, // idle_session_timeout
	"53300": true, // too_many_connections
	"57014": true, // query_canceled: statement_timeout
	"55P03": true, // lock_not_available: lock_timeout
	"25P03": true, // idle_in_transaction_session_timeout
}

// Code is the gRPC code for err, an error returned by pgx or pgxpool.
func Code(err error) codes.Code {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == serializationFailure || pgErr.Code == deadlockDetected:
			return codes.Aborted
		case strings.HasPrefix(pgErr.Code, "08") || unreachable[pgErr.Code]: // class 08: connection exception
			return codes.Unavailable
		}
		return codes.Internal
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return codes.Unavailable
	}
	return codes.Internal
}
