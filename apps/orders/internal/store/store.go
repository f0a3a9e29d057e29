// Package store keeps orders in PostgreSQL. Every write is one statement, committed on its own;
// each change to an existing order is announced on the orders_changed channel (delivered only if
// it commits).
package store

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the LISTEN/NOTIFY channel that carries the id of every order that changed.
const Channel = "orders_changed"

// States of an order, as stored.
const (
	Pending   = "pending"
	Confirmed = "confirmed"
	Cancelled = "cancelled"
)

// ErrNotFound is returned for an order id that does not exist.
var ErrNotFound = errors.New("order not found")

// Order is one row of the orders table.
type Order struct {
	ID         uuid.UUID
	Seq        int64
	RequestID  string
	CustomerID string
	SKU        string
	Quantity   int64
	State      string
	CreateTime time.Time
	UpdateTime time.Time
}

// Store reads and writes orders.
type Store struct {
	pool   *pgxpool.Pool
	reads  chan readRequest
	closed chan struct{}
	close  sync.Once
}

// New returns a Store on pool; Close stops its readers.
func New(pool *pgxpool.Pool) *Store {
	s := &Store{pool: pool, reads: make(chan readRequest), closed: make(chan struct{})}
	s.startReaders()
	return s
}

// Close stops the readers; reads after it fail with ErrClosed.
func (s *Store) Close() { s.close.Do(func() { close(s.closed) }) }

const columns = "id, seq, request_id, customer_id, sku, quantity, state, create_time, update_time"

// scan reads the columns of one order, then into extra whatever the query selects after them.
func scan(row pgx.Row, extra ...any) (Order, error) {
	var o Order
	dest := []any{&o.ID, &o.Seq, &o.RequestID, &o.CustomerID, &o.SKU, &o.Quantity, &o.State, &o.CreateTime, &o.UpdateTime}
	err := row.Scan(append(dest, extra...)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	return o, err
}

// CreatePending records a new pending order for requestID, or returns the order an earlier call
// with the same requestID created (created is then false). It announces nothing: no one can be
// watching an order that did not exist (WatchOrder answers NOT_FOUND for it), and every NOTIFY
// takes a lock that all committing transactions of the cluster queue for.
func (s *Store) CreatePending(ctx context.Context, requestID, customerID, sku string, quantity int64) (o Order, created bool, err error) {
	o, err = scan(s.pool.QueryRow(ctx, `INSERT INTO orders (id, request_id, customer_id, sku, quantity, state)
		VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (request_id) DO NOTHING RETURNING `+columns,
		uuid.New(), requestID, customerID, sku, quantity))
	if err == nil {
		return o, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Order{}, false, err
	}
	// The request id was taken (the insert waited for that transaction to commit): a new
	// statement sees the order it made.
	o, err = scan(s.pool.QueryRow(ctx, "SELECT "+columns+" FROM orders WHERE request_id = $1", requestID))
	return o, false, err
}

// List returns up to limit orders created after the one with sequence number afterSeq.
func (s *Store) List(ctx context.Context, afterSeq int64, limit int) ([]Order, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+columns+" FROM orders WHERE seq > $1 ORDER BY seq LIMIT $2", afterSeq, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scan(r) })
}

// Transition moves an order from one of the states in from to state to. It returns the order as
// it is afterwards, and whether this call changed it.
func (s *Store) Transition(ctx context.Context, id uuid.UUID, to string, from ...string) (o Order, changed bool, err error) {
	o, err = scanNotified(s.pool.QueryRow(ctx, `WITH changed AS (
			UPDATE orders SET state = $2, update_time = now() WHERE id = $1 AND state = ANY($3) RETURNING `+columns+`
		) SELECT `+columns+`, pg_notify($4, id::text)::text FROM changed`, id, to, from, Channel))
	if err == nil {
		return o, true, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Order{}, false, err
	}
	o, err = s.Get(ctx, id)
	return o, false, err
}

// DeletePending removes an order that never got its stock, so no half-made order stays behind.
func (s *Store) DeletePending(ctx context.Context, id uuid.UUID) error {
	_, err := s.pool.Exec(ctx, `WITH gone AS (DELETE FROM orders WHERE id = $1 AND state = 'pending' RETURNING id)
		SELECT pg_notify($2, id::text)::text FROM gone`, id, Channel)
	return err
}

// scanNotified reads an order followed by the result of the pg_notify that announced it.
//
// Each write is one statement in its own transaction: the row lock it takes and the NOTIFY queue
// lock taken at commit are held only while PostgreSQL runs it, never across a round trip.
func scanNotified(row pgx.Row) (Order, error) {
	var notified string
	return scan(row, &notified)
}
