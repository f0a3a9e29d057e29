// Package store keeps orders in PostgreSQL. Every write is one statement or one transaction, and
// announces the change on the orders_changed channel (delivered only if it commits).
package store

import (
	"context"
	"errors"
	"fmt"
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
type Store struct{ pool *pgxpool.Pool }

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const columns = "id, seq, request_id, customer_id, sku, quantity, state, create_time, update_time"

func scan(row pgx.Row) (Order, error) {
	var o Order
	err := row.Scan(&o.ID, &o.Seq, &o.RequestID, &o.CustomerID, &o.SKU, &o.Quantity, &o.State, &o.CreateTime, &o.UpdateTime)
	if errors.Is(err, pgx.ErrNoRows) {
		return Order{}, ErrNotFound
	}
	return o, err
}

// CreatePending records a new pending order for requestID, or returns the order an earlier call
// with the same requestID created (created is then false).
func (s *Store) CreatePending(ctx context.Context, requestID, customerID, sku string, quantity int64) (o Order, created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o, err = scan(tx.QueryRow(ctx, `INSERT INTO orders (id, request_id, customer_id, sku, quantity, state)
			VALUES ($1, $2, $3, $4, $5, 'pending') ON CONFLICT (request_id) DO NOTHING RETURNING `+columns,
			uuid.New(), requestID, customerID, sku, quantity))
		if err == nil {
			created = true
			return notify(ctx, tx, o.ID)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		// The insert found the request id taken (it waited for that transaction to finish).
		o, err = scan(tx.QueryRow(ctx, "SELECT "+columns+" FROM orders WHERE request_id = $1", requestID))
		return err
	})
	return o, created, err
}

// Get returns one order.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Order, error) {
	return scan(s.pool.QueryRow(ctx, "SELECT "+columns+" FROM orders WHERE id = $1", id))
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
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		o, err = scan(tx.QueryRow(ctx, "UPDATE orders SET state = $2, update_time = now() WHERE id = $1 AND state = ANY($3) RETURNING "+columns, id, to, from))
		if err == nil {
			changed = true
			return notify(ctx, tx, id)
		}
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		o, err = scan(tx.QueryRow(ctx, "SELECT "+columns+" FROM orders WHERE id = $1", id))
		return err
	})
	return o, changed, err
}

// DeletePending removes an order that never got its stock, so no half-made order stays behind.
func (s *Store) DeletePending(ctx context.Context, id uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, "DELETE FROM orders WHERE id = $1 AND state = 'pending'", id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		return notify(ctx, tx, id)
	})
}

func notify(ctx context.Context, tx pgx.Tx, id uuid.UUID) error {
	if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", Channel, id.String()); err != nil {
		return fmt.Errorf("announcing the change: %w", err)
	}
	return nil
}
