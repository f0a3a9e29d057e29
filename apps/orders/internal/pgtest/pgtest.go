// Package pgtest runs a throwaway PostgreSQL server for integration tests, from the server
// binaries on the machine. PostgreSQL refuses to run as root, so under root the cluster is owned
// by and run as the postgres OS user. Logins use scram-sha-256 over TCP, as in a cluster.
package pgtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/meridian-platform/meridian/apps/orders/internal/config"
)

const (
	superuser         = "postgres"
	superuserPassword = "superuser-secret"
)

// ErrNoPostgres means the server binaries are not installed.
var ErrNoPostgres = errors.New("PostgreSQL server binaries (initdb, pg_ctl) are not installed")

// debianRoot holds one folder per installed major version (Debian 12: 15, Ubuntu 24.04: 16).
const debianRoot = "/usr/lib/postgresql"

// Server is a running PostgreSQL cluster.
type Server struct {
	Host    string
	Port    int
	root    string
	bin     string
	runAs   []string
	options string
	counter atomic.Int64
}

// findBin returns the bin folder of the newest PostgreSQL installed, whatever its version.
func findBin() (string, error) {
	if dir := newestBin(debianRoot); dir != "" {
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", ErrNoPostgres
}

func newestBin(root string) string {
	best, bestMajor := "", -1
	entries, _ := os.ReadDir(root)
	for _, e := range entries {
		major, err := strconv.Atoi(strings.SplitN(e.Name(), ".", 2)[0])
		dir := filepath.Join(root, e.Name(), "bin")
		if err != nil || major <= bestMajor {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			best, bestMajor = dir, major
		}
	}
	return best
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start initialises and starts a cluster in a new temporary folder.
func Start() (*Server, error) {
	bin, err := findBin()
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	// Directly under the temp dir: the postgres user must be able to reach the path.
	root, err := os.MkdirTemp("", "meridian-pg-")
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", Port: port, root: root, bin: bin}
	if os.Geteuid() == 0 {
		s.runAs = []string{"runuser", "-u", "postgres", "--"}
		if err := chownToPostgres(root); err != nil {
			return nil, err
		}
	}
	pwfile := filepath.Join(root, "superuser-password")
	if err := os.WriteFile(pwfile, []byte(superuserPassword), 0o600); err != nil {
		return nil, err
	}
	if s.runAs != nil {
		if err := chownToPostgres(pwfile); err != nil {
			return nil, err
		}
	}
	data := filepath.Join(root, "data")
	if err := s.pg("initdb", "-D", data, "-U", superuser, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "--encoding=UTF8", "--no-sync"); err != nil {
		return nil, err
	}
	_ = os.Remove(pwfile)
	s.options = fmt.Sprintf("-c listen_addresses=%s -c port=%d -c unix_socket_directories=%s"+
		" -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300", s.Host, port, root)
	if err := s.Resume(); err != nil {
		return nil, err
	}
	return s, nil
}

// Halt stops the server as an operator would (fast shutdown: sessions are terminated with
// admin_shutdown), keeping its data, so tests can see what the services do without a database.
func (s *Server) Halt() error {
	return s.pg("pg_ctl", "-D", filepath.Join(s.root, "data"), "-m", "fast", "-w", "stop")
}

// Resume starts the server again on the same port with the same data.
func (s *Server) Resume() error {
	return s.pg("pg_ctl", "-D", filepath.Join(s.root, "data"), "-l", filepath.Join(s.root, "server.log"), "-o", s.options, "-w", "start")
}

func chownToPostgres(path string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs a postgres OS user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(path, uid, gid)
}

func (s *Server) pg(tool string, args ...string) error {
	argv := append(append(append([]string{}, s.runAs...), filepath.Join(s.bin, tool)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s failed: %w\n%s", tool, err, out)
	}
	return nil
}

// Stop stops the cluster and deletes its files.
func (s *Server) Stop() {
	_ = s.pg("pg_ctl", "-D", filepath.Join(s.root, "data"), "-m", "immediate", "-w", "stop")
	_ = os.RemoveAll(s.root)
}

// Admin connects as the superuser to database name.
func (s *Server) Admin(ctx context.Context, name string) (*pgx.Conn, error) {
	return pgx.Connect(ctx, fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable",
		superuser, superuserPassword, net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), name))
}

// NewDatabase creates a database owned by a new role and writes that role's credentials file
// into the test's temp dir; it returns the settings the service would get from its environment.
func (s *Server) NewDatabase(t testing.TB) config.Database {
	t.Helper()
	name := fmt.Sprintf("orders_%d_%d", os.Getpid(), s.counter.Add(1))
	ctx := context.Background()
	conn, err := s.Admin(ctx, "postgres")
	if err != nil {
		t.Fatalf("connecting to the test PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	ident := pgx.Identifier{name}.Sanitize()
	for _, stmt := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", ident, "pw-"+name),
		fmt.Sprintf("CREATE DATABASE %s OWNER %s", ident, ident),
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	file := filepath.Join(t.TempDir(), "db-credentials.json")
	WriteCredentials(t, file, name, "pw-"+name)
	return config.Database{Host: s.Host, Port: s.Port, Name: name, SSLMode: "disable", CredentialsFile: file, PoolMax: 20}
}

// WriteCredentials replaces the credentials file atomically, as Vault's agent does.
func WriteCredentials(t testing.TB, path, username, password string) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, body, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// Shared is the server a test package's TestMain started, or nil without PostgreSQL.
var shared *Server

// Main starts a server for the package's tests, runs them, and stops it. Without the server
// binaries it still runs the tests; those calling Require skip (or fail, with CI set).
func Main(m *testing.M) int {
	s, err := Start()
	switch {
	case errors.Is(err, ErrNoPostgres):
	case err != nil:
		fmt.Fprintln(os.Stderr, "starting the test PostgreSQL:", err)
		return 1
	default:
		shared = s
		defer s.Stop()
	}
	return m.Run()
}

// Require returns the package's server. Without PostgreSQL it skips the test on a developer's
// machine, and fails it when CI is set: there `make test` must have installed the server, and a
// skip would let a green run prove less than it says.
func Require(t testing.TB) *Server {
	t.Helper()
	if shared == nil {
		if inCI() {
			t.Fatalf("%v (CI is set: install the apt group, `meridian tools install --group apt`)", ErrNoPostgres)
		}
		t.Skip(ErrNoPostgres.Error())
	}
	return shared
}

func inCI() bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv("CI"))) {
	case "", "0", "false", "no":
		return false
	}
	return true
}
