// Package dbcheck checks, on a fixed interval, that the database answers, and reports what it
// finds as the meridian_database_up gauge and one log line per change.
//
// It deliberately does not touch the gRPC health status: every replica shares one database, so
// failing readiness during an outage would take all of them out of their Service at once, and the
// callers would get connection errors instead of UNAVAILABLE answers that say what is wrong.
package dbcheck

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Ping asks the database for an answer (pgxpool.Pool.Ping, in production).
type Ping func(ctx context.Context) error

// Run checks every interval until ctx ends, each check bounded by the interval itself. The gauge
// starts at 1: the service has just connected at start-up.
func Run(ctx context.Context, ping Ping, interval time.Duration, up prometheus.Gauge, log *slog.Logger) {
	reachable := true
	up.Set(1)
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		checkCtx, cancel := context.WithTimeout(ctx, interval)
		err := ping(checkCtx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		switch {
		case err != nil && reachable:
			log.Error("the database does not answer; calls that need it fail with UNAVAILABLE until it does",
				"error", err.Error())
		case err == nil && !reachable:
			log.Info("the database answers again")
		}
		reachable = err == nil
		if reachable {
			up.Set(1)
		} else {
			up.Set(0)
		}
	}
}
