package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/meridian-platform/meridian/apps/orders/internal/dbpool"
	"github.com/meridian-platform/meridian/apps/orders/internal/migrate"
	"github.com/meridian-platform/meridian/apps/orders/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T) *Store {
	t.Helper()
	ctx := context.Background()
	pool, err := dbpool.Open(ctx, pgtest.Require(t).NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	migrations, err := migrate.Discover(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, pool, migrations); err != nil {
		t.Fatal(err)
	}
	s := New(pool)
	t.Cleanup(s.Close)
	return s
}

func TestConcurrentReadsEachGetTheirOwnOrder(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	var ids []uuid.UUID
	for i := range 20 {
		o, _, err := s.CreatePending(ctx, fmt.Sprintf("req-%d", i), "c", "SKU-1", int64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 400)
	for round := range 10 {
		for i, id := range ids {
			wg.Add(2)
			go func() {
				defer wg.Done()
				o, err := s.Get(ctx, id)
				if err != nil || o.ID != id || o.Quantity != int64(i+1) || o.RequestID != fmt.Sprintf("req-%d", i) {
					errs <- fmt.Errorf("round %d: Get(%s) = %+v, %v", round, id, o, err)
				}
			}()
			go func() {
				defer wg.Done()
				if _, err := s.Get(ctx, uuid.New()); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("an unknown id among known ones: %v, want ErrNotFound", err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestAReadSeesTheWriteCommittedBeforeIt(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	o, _, err := s.CreatePending(ctx, "req-1", "c", "SKU-1", 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, state := range []string{Confirmed, Cancelled} {
		if _, _, err := s.Transition(ctx, o.ID, state, Pending, Confirmed); err != nil {
			t.Fatal(err)
		}
		if got, err := s.Get(ctx, o.ID); err != nil || got.State != state {
			t.Errorf("Get after moving to %s = %s, %v", state, got.State, err)
		}
	}
}

func TestReadsAfterCloseFail(t *testing.T) {
	s := open(t)
	s.Close()
	if _, err := s.Get(context.Background(), uuid.New()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}
