// Package config reads the orders service's settings from environment variables.
//
// The names and defaults are shared with the inventory service (Python), and the Kubernetes
// manifests are written against them, so a name here is part of the deployment contract.
package config

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// minWindow is the HTTP/2 default window; gRPC ignores smaller flow-control windows.
const minWindow = 65535

// Error names the variable that is wrong and says what it accepts.
type Error struct {
	Variable string
	Problem  string
}

func (e *Error) Error() string { return e.Variable + ": " + e.Problem }

// Database says where PostgreSQL is and how to log in to it.
type Database struct {
	Host            string
	Port            int
	Name            string
	SSLMode         string
	CredentialsFile string
	PoolMax         int
	// CheckInterval is how often the service checks that the database answers (for
	// meridian_database_up and its log line; readiness does not depend on it).
	CheckInterval time.Duration
}

// Inventory says how to reach the inventory service.
type Inventory struct {
	Target   string
	Timeout  time.Duration
	PoolSize int
}

// Config is every setting of the service.
type Config struct {
	GRPCPort            int
	MetricsPort         int
	Database            Database
	Inventory           Inventory
	ShutdownGracePeriod time.Duration
	// ShutdownDrainDelay is how long the server keeps taking calls after reporting NOT_SERVING,
	// so health-checking clients and load balancers move away first.
	ShutdownDrainDelay time.Duration
	// OTLPEndpoint is where spans go (OTLP over gRPC); empty exports nothing.
	OTLPEndpoint             string
	LogLevel                 string
	PodName                  string
	PodNamespace             string
	AppVersion               string
	GRPCMaxRecvMsgBytes      int
	GRPCMaxConcurrentStreams uint32
	GRPCInitialWindowSize    int32
	GRPCKeepaliveTime        time.Duration
	GRPCKeepaliveMinTime     time.Duration
	// Middleware off serves without interceptors; the benchmark uses it to price them.
	Middleware bool
}

// Load reads the configuration through getenv (os.Getenv in production), returning an *Error for
// the first variable that is missing or malformed.
func Load(getenv func(string) string) (Config, error) {
	r := reader{getenv: getenv}
	c := Config{
		GRPCPort:    r.port("GRPC_PORT", "50051"),
		MetricsPort: r.port("METRICS_PORT", "9090"),
		Database: Database{
			Host:            r.text("DB_HOST", "localhost"),
			Port:            r.port("DB_PORT", "5432"),
			Name:            r.text("DB_NAME", "orders"),
			SSLMode:         r.choice("DB_SSLMODE", "prefer", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
			CredentialsFile: r.required("DB_CREDENTIALS_FILE"),
			PoolMax:         r.integer("DB_POOL_MAX", "10", 1, 1000),
			CheckInterval:   r.duration("DB_CHECK_INTERVAL", "5s"),
		},
		Inventory: Inventory{
			Target:   r.required("INVENTORY_TARGET"),
			Timeout:  r.duration("INVENTORY_TIMEOUT", "2s"),
			PoolSize: r.integer("INVENTORY_POOL_SIZE", "1", 1, 64),
		},
		ShutdownGracePeriod:      r.duration("SHUTDOWN_GRACE_PERIOD", "20s"),
		ShutdownDrainDelay:       r.duration("SHUTDOWN_DRAIN_DELAY", "1s"),
		OTLPEndpoint:             r.otlpEndpoint(),
		LogLevel:                 r.choice("LOG_LEVEL", "info", "debug", "info", "warning", "warn", "error"),
		PodName:                  r.text("POD_NAME", ""),
		PodNamespace:             r.text("POD_NAMESPACE", ""),
		AppVersion:               r.text("APP_VERSION", "dev"),
		GRPCMaxRecvMsgBytes:      r.integer("GRPC_MAX_RECV_MSG_BYTES", "4194304", 1024, math.MaxInt32),
		GRPCMaxConcurrentStreams: uint32(r.integer("GRPC_MAX_CONCURRENT_STREAMS", "100", 1, math.MaxInt32)),
		GRPCInitialWindowSize:    int32(r.integer("GRPC_INITIAL_WINDOW_SIZE", "0", 0, math.MaxInt32)),
		GRPCKeepaliveTime:        r.duration("GRPC_KEEPALIVE_TIME", "30s"),
		GRPCKeepaliveMinTime:     r.duration("GRPC_KEEPALIVE_MIN_TIME", "10s"),
		Middleware:               r.choice("MIDDLEWARE", "on", "on", "off") == "on",
	}
	if r.err == nil && c.GRPCInitialWindowSize > 0 && c.GRPCInitialWindowSize < minWindow {
		r.fail("GRPC_INITIAL_WINDOW_SIZE", fmt.Sprintf("%d is below %d; use 0 for gRPC's own sizing", c.GRPCInitialWindowSize, minWindow))
	}
	if r.err == nil && c.Inventory.Timeout <= 0 {
		r.fail("INVENTORY_TIMEOUT", "must be longer than 0s: every call to inventory needs a deadline")
	}
	if r.err == nil && c.Database.CheckInterval <= 0 {
		r.fail("DB_CHECK_INTERVAL", "must be longer than 0s")
	}
	if r.err != nil {
		return Config{}, r.err
	}
	return c, nil
}

// FromEnvironment reads the process's environment.
func FromEnvironment() (Config, error) { return Load(os.Getenv) }

// reader keeps the first error, so Load reads as a flat list of settings.
type reader struct {
	getenv func(string) string
	err    *Error
}

func (r *reader) fail(variable, problem string) {
	if r.err == nil {
		r.err = &Error{Variable: variable, Problem: problem}
	}
}

func (r *reader) text(name, fallback string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return fallback
}

func (r *reader) required(name string) string {
	v := r.text(name, "")
	if v == "" {
		r.fail(name, "is required and not set")
	}
	return v
}

func (r *reader) integer(name, fallback string, low, high int) int {
	raw := r.text(name, fallback)
	v, err := strconv.Atoi(raw)
	if err != nil {
		r.fail(name, fmt.Sprintf("%q is not a whole number", raw))
		return 0
	}
	if v < low || v > high {
		r.fail(name, fmt.Sprintf("%d is out of range; use %d to %d", v, low, high))
		return 0
	}
	return v
}

func (r *reader) port(name, fallback string) int { return r.integer(name, fallback, 0, 65535) }

func (r *reader) duration(name, fallback string) time.Duration {
	raw := r.text(name, fallback)
	d, err := time.ParseDuration(raw)
	if err != nil || d < 0 {
		r.fail(name, fmt.Sprintf("%q is not a duration; write it like 20s, 1m30s or 500ms", raw))
		return 0
	}
	return d
}

func (r *reader) choice(name, fallback string, allowed ...string) string {
	v := strings.ToLower(r.text(name, fallback))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	r.fail(name, fmt.Sprintf("%q is not one of %s", v, strings.Join(allowed, ", ")))
	return ""
}

// otlpEndpoint reads the OpenTelemetry exporter's standard variables: the traces-only one wins
// over the general one, as the OpenTelemetry specification says.
func (r *reader) otlpEndpoint() string {
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		raw := r.text(name, "")
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.fail(name, fmt.Sprintf("%q is not a URL like http://alloy.monitoring.svc:4317 (http:// sends in plain text, https:// over TLS)", raw))
			return ""
		}
		return raw
	}
	return ""
}
