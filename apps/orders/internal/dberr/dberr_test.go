package dberr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc/codes"

	"github.com/meridian-platform/meridian/apps/orders/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// connect opens a superuser connection to a fresh database of the test server.
func connect(t *testing.T) (*pgtest.Server, *pgx.Conn, string) {
	t.Helper()
	s := pgtest.Require(t)
	db := s.NewDatabase(t)
	conn, err := s.Admin(context.Background(), db.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return s, conn, db.Name
}

func TestErrorsPostgreSQLRaisesGetTheirCode(t *testing.T) {
	_, conn, _ := connect(t)
	ctx := context.Background()
	raise := func(sqlstate string) string {
		return fmt.Sprintf("DO $$ BEGIN RAISE EXCEPTION 'raised' USING ERRCODE = '%s'; END $$", sqlstate)
	}
	cases := []struct {
		name, sql string
		want      codes.Code
	}{
		{"serialization failure", raise("40001"), codes.Aborted},
		{"deadlock", raise("40P01"), codes.Aborted},
		{"admin shutdown", raise("57P01"), codes.Unavailable},
		{"cannot connect now", raise("57P03"), codes.Unavailable},
		{"connection failure", raise("08006"), codes.Unavailable},
		{"too many connections", raise("53300"), codes.Unavailable},
		{"syntax error", "SELEC 1", codes.Internal},
		{"unique violation", raise("23505"), codes.Internal},
		{"check violation", raise("23514"), codes.Internal},
	}
	for _, c := range cases {
		_, err := conn.Exec(ctx, c.sql)
		if err == nil {
			t.Fatalf("%s: no error", c.name)
		}
		if got := Code(err); got != c.want {
			t.Errorf("%s (%v): %v, want %v", c.name, err, got, c.want)
		}
	}
}

func TestStatementTimeoutIsUnavailable(t *testing.T) {
	_, conn, _ := connect(t)
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "SET statement_timeout = '20ms'"); err != nil {
		t.Fatal(err)
	}
	_, err := conn.Exec(ctx, "SELECT pg_sleep(2)")
	if got := Code(err); got != codes.Unavailable {
		t.Errorf("statement timeout (%v): %v, want Unavailable", err, got)
	}
}

func TestARealDeadlockIsAborted(t *testing.T) {
	s, first, name := connect(t)
	ctx := context.Background()
	if _, err := first.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, v int); INSERT INTO t VALUES (1, 0), (2, 0)"); err != nil {
		t.Fatal(err)
	}
	second, err := s.Admin(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	txA, _ := first.Begin(ctx)
	txB, _ := second.Begin(ctx)
	defer txA.Rollback(ctx)
	defer txB.Rollback(ctx)
	if _, err := txA.Exec(ctx, "UPDATE t SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := txB.Exec(ctx, "UPDATE t SET v = 1 WHERE id = 2"); err != nil {
		t.Fatal(err)
	}
	errA := make(chan error, 1)
	go func() {
		_, err := txA.Exec(ctx, "UPDATE t SET v = 2 WHERE id = 2")
		errA <- err
	}()
	time.Sleep(100 * time.Millisecond) // A waits for B's row
	_, errB := txB.Exec(ctx, "UPDATE t SET v = 2 WHERE id = 1")
	if errB == nil {
		_ = txB.Rollback(ctx) // B won: A was chosen as the victim
	}
	failed := errB
	if failed == nil {
		failed = <-errA
	}
	if got := Code(failed); got != codes.Aborted {
		t.Errorf("deadlock victim (%v): %v, want Aborted", failed, got)
	}
}

func TestATerminatedConnectionIsUnavailable(t *testing.T) {
	s, conn, _ := connect(t)
	ctx := context.Background()
	admin, err := s.Admin(ctx, "postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_terminate_backend($1)", conn.PgConn().PID()); err != nil {
		t.Fatal(err)
	}
	for range 2 { // the first statement reads the FATAL message; the next finds the connection closed
		_, err := conn.Exec(ctx, "SELECT 1")
		if err == nil {
			t.Fatal("a terminated connection answered")
		}
		if got := Code(err); got != codes.Unavailable {
			t.Errorf("terminated connection (%v): %v, want Unavailable", err, got)
		}
	}
}

func TestNoServerListeningIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close() // nothing listens there now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = pgx.Connect(ctx, "postgres://u:p@127.0.0.1:"+strconv.Itoa(port)+"/db?sslmode=disable&connect_timeout=2")
	if got := Code(err); got != codes.Unavailable {
		t.Errorf("connection refused (%v): %v, want Unavailable", err, got)
	}
}

func TestOtherErrorsAreInternal(t *testing.T) {
	if got := Code(errors.New("scanning: cannot convert")); got != codes.Internal {
		t.Errorf("a plain error: %v, want Internal", got)
	}
}
