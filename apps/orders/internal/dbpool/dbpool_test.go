package dbpool

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
