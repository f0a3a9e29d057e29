package store

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Reads of one order by id are coalesced: the calls that arrive while a read is running wait for
// the next one, which fetches all their orders in one statement. Under load that is one round trip
// and one query for many calls instead of one each (the database shares the servers' CPU); alone,
// a call is read at once, exactly as before. Each read still starts after its call arrived, so it
// sees every write committed before the call: coalescing never returns an older row.
const (
	// readers is how many coalesced reads may run at once.
	readers = 2
	// maxBatch bounds the ids one statement asks for.
	maxBatch = 64
	// readTimeout bounds a coalesced read; callers give up sooner on their own deadlines.
	readTimeout = 10 * time.Second
)

// ErrClosed is returned for reads after Close.
var ErrClosed = errors.New("the order store is closed")

type readRequest struct {
	id    uuid.UUID
	reply chan readResult
}

type readResult struct {
	order Order
	err   error
}

func (s *Store) startReaders() {
	for range readers {
		go s.readLoop()
	}
}

// Get returns one order.
func (s *Store) Get(ctx context.Context, id uuid.UUID) (Order, error) {
	req := readRequest{id: id, reply: make(chan readResult, 1)}
	select {
	case s.reads <- req:
	case <-s.closed:
		return Order{}, ErrClosed
	case <-ctx.Done():
		return Order{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.order, r.err
	case <-ctx.Done():
		return Order{}, ctx.Err()
	}
}

func (s *Store) readLoop() {
	for {
		var first readRequest
		select {
		case first = <-s.reads:
		case <-s.closed:
			return
		}
		batch := []readRequest{first}
	gather:
		for len(batch) < maxBatch {
			select {
			case r := <-s.reads:
				batch = append(batch, r)
			default:
				break gather
			}
		}
		s.read(batch)
	}
}

func (s *Store) read(batch []readRequest) {
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	if len(batch) == 1 {
		o, err := scan(s.pool.QueryRow(ctx, "SELECT "+columns+" FROM orders WHERE id = $1", batch[0].id))
		batch[0].reply <- readResult{o, err}
		return
	}
	ids := make([]uuid.UUID, len(batch))
	for i, r := range batch {
		ids[i] = r.id
	}
	found := make(map[uuid.UUID]Order, len(batch))
	rows, err := s.pool.Query(ctx, "SELECT "+columns+" FROM orders WHERE id = ANY($1)", ids)
	if err == nil {
		var list []Order
		list, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Order, error) { return scan(r) })
		for _, o := range list {
			found[o.ID] = o
		}
	}
	for _, r := range batch {
		switch o, ok := found[r.id]; {
		case err != nil:
			r.reply <- readResult{err: err}
		case !ok:
			r.reply <- readResult{err: ErrNotFound}
		default:
			r.reply <- readResult{order: o}
		}
	}
}
