package obs

import (
	grpcprom "github.com/grpc-ecosystem/go-grpc-middleware/providers/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the service's Prometheus collectors. The gRPC ones come from go-grpc-middleware's
// prometheus provider; the inventory service (Python) exports the same names, labels and buckets.
type Metrics struct {
	Registry *prometheus.Registry
	Server   *grpcprom.ServerMetrics
	Client   *grpcprom.ClientMetrics
	// DatabaseUp is 1 while the last database check got an answer, 0 while it did not. Both
	// services export it under this name.
	DatabaseUp prometheus.Gauge
}

// NewMetrics registers the gRPC server and client metrics, the Go runtime and process collectors,
// meridian_build_info and meridian_database_up.
func NewMetrics(app, version, revision string) *Metrics {
	reg := prometheus.NewRegistry()
	server := grpcprom.NewServerMetrics(grpcprom.WithServerHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets(prometheus.DefBuckets)))
	client := grpcprom.NewClientMetrics(grpcprom.WithClientHandlingTimeHistogram(
		grpcprom.WithHistogramBuckets(prometheus.DefBuckets)))
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "meridian_build_info",
		Help:        "Always 1; its labels say which build of which app is running.",
		ConstLabels: prometheus.Labels{"app": app, "version": version, "revision": revision},
	})
	buildInfo.Set(1)
	databaseUp := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meridian_database_up",
		Help: "1 while the service's last check of its database got an answer, 0 while it did not.",
	})
	reg.MustRegister(server, client, buildInfo, databaseUp,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return &Metrics{Registry: reg, Server: server, Client: client, DatabaseUp: databaseUp}
}
