package migrate

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/meridian-platform/meridian/apps/orders/internal/dbpool"
	"github.com/meridian-platform/meridian/apps/orders/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func openPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	db := pgtest.Require(t).NewDatabase(t)
	pool, err := dbpool.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func TestEmbeddedMigrationsAreOrderedAndNamed(t *testing.T) {
	ms, err := Discover(nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("migrations = %v, want the first to be version 1", ms)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			t.Errorf("migration %d does not come after %d", ms[i].Version, ms[i-1].Version)
		}
	}
}

func TestDiscoverRejectsBadFiles(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"badly named": {"1_init.sql": {Data: []byte("SELECT 1")}},
		"duplicate":   {"0001_a.sql": {Data: []byte("SELECT 1")}, "0001_b.sql": {Data: []byte("SELECT 1")}},
	} {
		if _, err := Discover(fsys); err == nil {
			t.Errorf("%s: Discover accepted it", name)
		}
	}
}

func TestApplyRunsEachMigrationOnceInOrder(t *testing.T) {
	pool := openPool(t)
	ctx := context.Background()
	fsys := fstest.MapFS{
		"0002_add_column.sql": {Data: []byte("ALTER TABLE things ADD COLUMN size int; INSERT INTO things VALUES (1, 10);")},
		"0001_create.sql":     {Data: []byte("CREATE TABLE things (id int PRIMARY KEY);")},
	}
	ms, err := Discover(fsys)
	if err != nil {
		t.Fatal(err)
	}
	applied, err := Apply(ctx, pool, ms)
	if err != nil || len(applied) != 2 || applied[0] != 1 || applied[1] != 2 {
		t.Fatalf("first Apply = %v, %v; want [1 2]", applied, err)
	}
	again, err := Apply(ctx, pool, ms)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Apply = %v, %v; want nothing applied", again, err)
	}
	var names []string
	rows, _ := pool.Query(ctx, "SELECT name FROM schema_migrations ORDER BY version")
	for rows.Next() {
		var n string
		_ = rows.Scan(&n)
		names = append(names, n)
	}
	if strings.Join(names, ",") != "create,add_column" {
		t.Errorf("schema_migrations names = %v", names)
	}
}

func TestConcurrentStartupsApplyOnce(t *testing.T) {
	pool := openPool(t)
	ms, err := Discover(nil)
	if err != nil {
		t.Fatal(err)
	}
	const replicas = 5
	results := make([][]int, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Apply(context.Background(), pool, ms)
		}()
	}
	wg.Wait()
	total := 0
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		total += len(results[i])
	}
	if total != len(ms) {
		t.Errorf("replicas applied %d migrations in total, want %d (each exactly once)", total, len(ms))
	}
}

func TestFailedMigrationIsRolledBack(t *testing.T) {
	pool := openPool(t)
	ctx := context.Background()
	ms, _ := Discover(fstest.MapFS{
		"0001_good.sql": {Data: []byte("CREATE TABLE good (id int);")},
		"0002_bad.sql":  {Data: []byte("CREATE TABLE half (id int); SELECT no_such_function();")},
	})
	applied, err := Apply(ctx, pool, ms)
	if err == nil || !strings.Contains(err.Error(), "0002_bad") {
		t.Fatalf("Apply error = %v, want one naming 0002_bad", err)
	}
	if len(applied) != 1 {
		t.Errorf("applied = %v, want only the first", applied)
	}
	var exists bool
	_ = pool.QueryRow(ctx, "SELECT to_regclass('half') IS NOT NULL").Scan(&exists)
	if exists {
		t.Error("table half exists: the failed migration was not rolled back")
	}
	var recorded int
	_ = pool.QueryRow(ctx, "SELECT count(*) FROM schema_migrations WHERE version = 2").Scan(&recorded)
	if recorded != 0 {
		t.Error("the failed migration was recorded as applied")
	}
}
