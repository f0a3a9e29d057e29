package config

import (
	"errors"
	"testing"
	"time"
)

func env(values map[string]string) func(string) string {
	return func(name string) string { return values[name] }
}

func minimal() map[string]string {
	return map[string]string{
		"DB_CREDENTIALS_FILE": "/vault/secrets/db.json",
		"INVENTORY_TARGET":    "dns:///inventory-headless.inventory.svc.cluster.local:50051",
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(env(minimal()))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.GRPCPort != 50051 || c.MetricsPort != 9090 {
		t.Errorf("ports = %d, %d; want 50051, 9090", c.GRPCPort, c.MetricsPort)
	}
	if c.ShutdownGracePeriod != 20*time.Second || c.Inventory.Timeout != 2*time.Second {
		t.Errorf("durations = %v, %v", c.ShutdownGracePeriod, c.Inventory.Timeout)
	}
	if c.ShutdownDrainDelay != time.Second || c.Database.CheckInterval != 5*time.Second || c.OTLPEndpoint != "" {
		t.Errorf("drain %v, database check %v, OTLP endpoint %q; want 1s, 5s and none", c.ShutdownDrainDelay, c.Database.CheckInterval, c.OTLPEndpoint)
	}
	if c.Inventory.PoolSize != 1 || !c.Middleware || c.Database.PoolMax != 10 {
		t.Errorf("pool size %d, middleware %v, db pool %d", c.Inventory.PoolSize, c.Middleware, c.Database.PoolMax)
	}
}

func TestOverrides(t *testing.T) {
	values := minimal()
	values["SHUTDOWN_GRACE_PERIOD"] = "1m30s"
	values["GRPC_INITIAL_WINDOW_SIZE"] = "1048576"
	values["INVENTORY_POOL_SIZE"] = "4"
	values["MIDDLEWARE"] = "off"
	c, err := Load(env(values))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.ShutdownGracePeriod != 90*time.Second || c.GRPCInitialWindowSize != 1<<20 ||
		c.Inventory.PoolSize != 4 || c.Middleware {
		t.Errorf("got %+v", c)
	}
}

func TestErrorsNameTheVariable(t *testing.T) {
	cases := map[string]map[string]string{
		"GRPC_PORT":                          {"GRPC_PORT": "abc"},
		"METRICS_PORT":                       {"METRICS_PORT": "70000"},
		"SHUTDOWN_GRACE_PERIOD":              {"SHUTDOWN_GRACE_PERIOD": "20"},
		"GRPC_INITIAL_WINDOW_SIZE":           {"GRPC_INITIAL_WINDOW_SIZE": "1000"},
		"DB_SSLMODE":                         {"DB_SSLMODE": "sometimes"},
		"INVENTORY_TIMEOUT":                  {"INVENTORY_TIMEOUT": "0s"},
		"DB_CREDENTIALS_FILE":                {"DB_CREDENTIALS_FILE": ""},
		"INVENTORY_TARGET":                   {"INVENTORY_TARGET": " "},
		"SHUTDOWN_DRAIN_DELAY":               {"SHUTDOWN_DRAIN_DELAY": "1"},
		"DB_CHECK_INTERVAL":                  {"DB_CHECK_INTERVAL": "0s"},
		"OTEL_EXPORTER_OTLP_ENDPOINT":        {"OTEL_EXPORTER_OTLP_ENDPOINT": "alloy:4317"},
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "ftp://alloy:4317"},
	}
	for variable, change := range cases {
		values := minimal()
		for k, v := range change {
			values[k] = v
		}
		_, err := Load(env(values))
		var configErr *Error
		if !errors.As(err, &configErr) {
			t.Errorf("%s: want *Error, got %v", variable, err)
			continue
		}
		if configErr.Variable != variable {
			t.Errorf("error names %s, want %s (%v)", configErr.Variable, variable, err)
		}
	}
}

func TestTracesEndpointWinsOverTheGeneralOne(t *testing.T) {
	values := minimal()
	values["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4317"
	values["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = "http://127.0.0.1:14317"
	c, err := Load(env(values))
	if err != nil || c.OTLPEndpoint != "http://127.0.0.1:14317" {
		t.Errorf("OTLP endpoint = %q, %v; want the traces endpoint", c.OTLPEndpoint, err)
	}
}
