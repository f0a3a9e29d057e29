// Package app assembles the orders process: database, inventory client, gRPC server with health
// and reflection, tracing, and the metrics endpoint, started and stopped in the order that lets
// Kubernetes drain a replica without failing a call.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/config"
	"github.com/meridian-platform/meridian/apps/orders/internal/dbcheck"
	"github.com/meridian-platform/meridian/apps/orders/internal/dbpool"
	"github.com/meridian-platform/meridian/apps/orders/internal/inventory"
	"github.com/meridian-platform/meridian/apps/orders/internal/migrate"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
	"github.com/meridian-platform/meridian/apps/orders/internal/service"
	"github.com/meridian-platform/meridian/apps/orders/internal/store"
	"github.com/meridian-platform/meridian/apps/orders/internal/tracing"
	"github.com/meridian-platform/meridian/apps/orders/internal/watch"
)

// Name is the app label in logs and metrics.
const Name = "orders"

// keepaliveTimeout is how long the server waits for a ping's answer before dropping the connection.
const keepaliveTimeout = 20 * time.Second

// startTimeout bounds connecting to the database and migrating it at start-up.
const startTimeout = 60 * time.Second

// App is a started orders process.
type App struct {
	cfg       config.Config
	log       *slog.Logger
	pool      *pgxpool.Pool
	store     *store.Store
	inventory *inventory.Client
	hub       *watch.Hub
	stopHub   context.CancelFunc
	stopCheck context.CancelFunc
	tracing   *tracing.Tracing
	health    *health.Server
	grpc      *grpc.Server
	metrics   *http.Server
	grpcLn    net.Listener
	metricsLn net.Listener
	stopOnce  sync.Once
}

// Start brings the service up and returns once it is serving.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, revision string) (a *App, err error) {
	a = &App{cfg: cfg, log: log}
	defer func() {
		if err != nil {
			a.Shutdown()
		}
	}()
	startCtx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()

	if a.pool, err = dbpool.Open(startCtx, cfg.Database); err != nil {
		return a, err
	}
	migrations, err := migrate.Discover(nil)
	if err != nil {
		return a, err
	}
	applied, err := migrate.Apply(startCtx, a.pool, migrations)
	if err != nil {
		return a, err
	}
	log.Info("database ready", "migrations_applied", applied)

	hubCtx, stopHub := context.WithCancel(context.Background())
	a.stopHub = stopHub
	a.hub = watch.New(store.Channel, func(ctx context.Context) (*pgx.Conn, error) {
		return dbpool.Connect(ctx, cfg.Database)
	}, log)
	ready := make(chan struct{})
	go a.hub.Run(hubCtx, ready)
	select {
	case <-ready:
	case <-startCtx.Done():
		return a, fmt.Errorf("listening for order changes: %w", startCtx.Err())
	}

	metrics := obs.NewMetrics(Name, cfg.AppVersion, revision)
	checkCtx, stopCheck := context.WithCancel(context.Background())
	a.stopCheck = stopCheck
	go dbcheck.Run(checkCtx, a.pool.Ping, cfg.Database.CheckInterval, metrics.DatabaseUp, log)

	if a.tracing, err = tracing.Start(startCtx, cfg.OTLPEndpoint, tracing.Identity{
		Service: Name, Version: cfg.AppVersion, Pod: cfg.PodName, Namespace: cfg.PodNamespace,
	}); err != nil {
		return a, err
	}
	log.Info("tracing", "exporting", a.tracing.Exporting, "otlp_endpoint", cfg.OTLPEndpoint)

	var clientInterceptors []grpc.UnaryClientInterceptor
	var clientStats []stats.Handler
	if cfg.Middleware {
		clientInterceptors = append(clientInterceptors, metrics.Client.UnaryClientInterceptor())
		clientStats = append(clientStats, a.tracing.ClientHandler())
	}
	if a.inventory, err = inventory.New(inventory.Options{
		Target:        cfg.Inventory.Target,
		Timeout:       cfg.Inventory.Timeout,
		PoolSize:      cfg.Inventory.PoolSize,
		KeepaliveTime: cfg.GRPCKeepaliveTime,
		Interceptors:  clientInterceptors,
		StatsHandlers: clientStats,
	}); err != nil {
		return a, err
	}

	a.grpc = grpc.NewServer(serverOptions(cfg, log, metrics, a.tracing)...)
	a.store = store.New(a.pool)
	ordersv1.RegisterOrdersServiceServer(a.grpc, service.New(a.store, a.inventory, a.hub, log))
	a.health = health.NewServer()
	healthpb.RegisterHealthServer(a.grpc, a.health)
	reflection.Register(a.grpc)
	if cfg.Middleware {
		metrics.Server.InitializeMetrics(a.grpc)
	}

	if a.grpcLn, err = net.Listen("tcp", ":"+strconv.Itoa(cfg.GRPCPort)); err != nil {
		return a, fmt.Errorf("GRPC_PORT %d: %w", cfg.GRPCPort, err)
	}
	if a.metricsLn, err = net.Listen("tcp", ":"+strconv.Itoa(cfg.MetricsPort)); err != nil {
		return a, fmt.Errorf("METRICS_PORT %d: %w", cfg.MetricsPort, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
	a.metrics = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.metrics.Serve(a.metricsLn) }()
	go func() {
		if err := a.grpc.Serve(a.grpcLn); err != nil {
			log.Error("gRPC server stopped", "error", err.Error())
		}
	}()
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	a.health.SetServingStatus(ordersv1.OrdersService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("serving", "grpc_addr", a.grpcLn.Addr().String(), "metrics_addr", a.metricsLn.Addr().String(),
		"inventory_target", cfg.Inventory.Target)
	return a, nil
}

func serverOptions(cfg config.Config, log *slog.Logger, metrics *obs.Metrics, tr *tracing.Tracing) []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(cfg.GRPCMaxRecvMsgBytes),
		grpc.MaxConcurrentStreams(cfg.GRPCMaxConcurrentStreams),
		// Pings idle clients so connections through NATs and load balancers stay open.
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: cfg.GRPCKeepaliveTime, Timeout: keepaliveTimeout}),
		// Clients pinging more often than MinTime get GOAWAY (too_many_pings).
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: cfg.GRPCKeepaliveMinTime, PermitWithoutStream: true}),
	}
	if cfg.GRPCInitialWindowSize > 0 {
		// A fixed window replaces gRPC's bandwidth-delay probing, which would resize it.
		opts = append(opts, grpc.InitialWindowSize(cfg.GRPCInitialWindowSize), grpc.InitialConnWindowSize(cfg.GRPCInitialWindowSize))
	}
	if !cfg.Middleware {
		return opts
	}
	calls := obs.Calls{Log: log}
	recovered := recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		log.ErrorContext(ctx, "panic in a handler", "panic", fmt.Sprint(p), "request_id", obs.RequestID(ctx))
		return status.Error(codes.Internal, "the server failed; the error is logged under this call's request id")
	})
	return append(opts,
		// A stats handler runs before the interceptors, so the call's log line can name its trace.
		grpc.StatsHandler(tr.ServerHandler()),
		grpc.ChainUnaryInterceptor(calls.Unary, metrics.Server.UnaryServerInterceptor(), recovery.UnaryServerInterceptor(recovered)),
		grpc.ChainStreamInterceptor(calls.Stream, metrics.Server.StreamServerInterceptor(), recovery.StreamServerInterceptor(recovered)),
	)
}

// GRPCAddr is the address the gRPC server listens on.
func (a *App) GRPCAddr() string { return a.grpcLn.Addr().String() }

// MetricsAddr is the address the metrics endpoint listens on.
func (a *App) MetricsAddr() string { return a.metricsLn.Addr().String() }

// Shutdown reports NOT_SERVING first and ends WatchOrder streams; keeps taking calls for the
// drain delay, so health-checking clients and load balancers move away before the server refuses
// any; then refuses new calls and lets those in flight finish within the grace period; then cuts
// what is left, sends the buffered spans and closes the inventory channels and the database pool.
// Calling it again does nothing.
func (a *App) Shutdown() { a.stopOnce.Do(a.shutdown) }

func (a *App) shutdown() {
	grace := a.cfg.ShutdownGracePeriod
	a.log.Info("shutting down", "grace_period_s", grace.Seconds(), "drain_delay_s", a.cfg.ShutdownDrainDelay.Seconds())
	if a.health != nil {
		a.health.Shutdown()
	}
	if a.hub != nil {
		a.hub.Close()
	}
	if a.grpcLn != nil {
		time.Sleep(a.cfg.ShutdownDrainDelay)
	}
	if a.grpc != nil {
		drained := make(chan struct{})
		go func() {
			a.grpc.GracefulStop()
			close(drained)
		}()
		select {
		case <-drained:
		case <-time.After(grace):
			a.log.Warn("grace period over; cancelling the calls still running")
			a.grpc.Stop()
			<-drained
		}
	}
	if a.metrics != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.metrics.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Warn("metrics endpoint did not stop cleanly", "error", err.Error())
		}
		cancel()
	} else if a.metricsLn != nil {
		_ = a.metricsLn.Close()
	}
	if a.stopHub != nil {
		a.stopHub()
	}
	if a.stopCheck != nil {
		a.stopCheck()
	}
	if a.tracing != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.tracing.Shutdown(ctx); err != nil {
			a.log.Warn("spans still buffered were not sent", "error", err.Error())
		}
		cancel()
	}
	if a.inventory != nil {
		_ = a.inventory.Close()
	}
	if a.store != nil {
		a.store.Close()
	}
	if a.pool != nil {
		a.pool.Close()
	}
	a.log.Info("stopped")
}
