package dbpool

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meridian-platform/meridian/apps/orders/internal/config"
)

// connString has everything but the credentials, which BeforeConnect fills in per connection.
func connString(db config.Database) string {
	return fmt.Sprintf("postgres://%s/%s?sslmode=%s&application_name=orders&connect_timeout=10",
		net.JoinHostPort(db.Host, strconv.Itoa(db.Port)), db.Name, db.SSLMode)
}

// Open returns a pool that has made one connection, so bad credentials or an unreachable server
// fail start-up instead of the first call.
func Open(ctx context.Context, db config.Database) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(connString(db))
	if err != nil {
		return nil, fmt.Errorf("database settings: %w", err)
	}
	cfg.MaxConns = int32(db.PoolMax)
	// Read the file for every new connection: after Vault rotates the password, the next
	// connection uses the new one and open connections keep working until they are recycled.
	cfg.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		creds, err := ReadCredentials(db.CredentialsFile)
		if err != nil {
			return err
		}
		cc.User, cc.Password = creds.Username, creds.Password
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("database %s at %s:%d: %w", db.Name, db.Host, db.Port, err)
	}
	return pool, nil
}

// Connect opens one connection outside the pool, for LISTEN: a listening connection is held for
// the life of the process and must not take a pool slot.
func Connect(ctx context.Context, db config.Database) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString(db))
	if err != nil {
		return nil, fmt.Errorf("database settings: %w", err)
	}
	creds, err := ReadCredentials(db.CredentialsFile)
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = creds.Username, creds.Password
	return pgx.ConnectConfig(ctx, cfg)
}
