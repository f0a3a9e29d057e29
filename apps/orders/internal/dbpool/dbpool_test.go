package dbpool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/meridian-platform/meridian/apps/orders/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func TestReadCredentialsErrorsNameTheFile(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	bad := filepath.Join(dir, "bad.json")
	_ = os.WriteFile(bad, []byte(`{"password": "x"}`), 0o600)
	for _, path := range []string{missing, bad} {
		_, err := ReadCredentials(path)
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("ReadCredentials(%s) = %v, want an error naming the file", path, err)
		}
	}
}

// Vault rotates the password and rewrites the file: connections opened afterwards must log in
// with the new password, without a restart.
func TestNewConnectionsUseRotatedCredentials(t *testing.T) {
	server := pgtest.Require(t)
	db := server.NewDatabase(t)
	ctx := context.Background()
	pool, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	admin, err := server.Admin(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "ALTER ROLE "+pgx.Identifier{db.Name}.Sanitize()+" PASSWORD 'rotated-secret'"); err != nil {
		t.Fatal(err)
	}
	pgtest.WriteCredentials(t, db.CredentialsFile, db.Name, "rotated-secret")

	pool.Reset() // drop the connections made with the old password
	var one int
	if err := pool.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query after rotation: %v", err)
	}
	conn, err := Connect(ctx, db)
	if err != nil {
		t.Fatalf("Connect after rotation: %v", err)
	}
	_ = conn.Close(ctx)
}

func TestOpenReportsBadPassword(t *testing.T) {
	server := pgtest.Require(t)
	db := server.NewDatabase(t)
	pgtest.WriteCredentials(t, db.CredentialsFile, db.Name, "wrong")
	_, err := Open(context.Background(), db)
	if err == nil || !strings.Contains(err.Error(), db.Name) {
		t.Fatalf("Open with a wrong password = %v, want an error naming the database", err)
	}
}

// A call that gives up while its statement waits behind another session's row lock must end that
// statement in PostgreSQL: otherwise the backend waits on, holds a connection slot, and commits the
// change once the lock is free, after the caller was told it failed. pgx does this when it drops
// the connection (a cancel request, then Terminate); the service sets no statement timeout of its
// own and relies on it.
func TestACancelledCallEndsItsStatementInTheServer(t *testing.T) {
	server := pgtest.Require(t)
	db := server.NewDatabase(t)
	ctx := context.Background()
	pool, err := Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0)"); err != nil {
		t.Fatal(err)
	}
	admin, err := server.Admin(ctx, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	locker, err := admin.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := locker.Exec(ctx, "SELECT v FROM t WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}

	callCtx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := pool.Exec(callCtx, "UPDATE t SET v = v + 1 WHERE id = 1"); err == nil {
		t.Fatal("the update went through although the row was locked")
	}

	observer, err := server.Admin(ctx, db.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer observer.Close(ctx)
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		if err := observer.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'orders' AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backend(s) of orders still wait for the lock after the call gave up", waiting)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := locker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// Had the statement gone on waiting, it would have run once the lock was gone.
	time.Sleep(200 * time.Millisecond)
	var v int
	if err := pool.QueryRow(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != 0 {
		t.Fatalf("v = %d (%v), want 0: the cancelled update ran after all", v, err)
	}
}
