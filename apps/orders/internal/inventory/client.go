// Package inventory is the orders service's client of the inventory service.
//
// It keeps long-lived channels (INVENTORY_POOL_SIZE of them, one by default) that balance calls
// round-robin over every address the target resolves to: with a headless Service, dns:/// returns
// one address per inventory pod, so calls spread over pods instead of sticking to one connection.
package inventory

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking, named in the service config
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"

	inventoryv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/inventory/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
)

// serviceConfig balances round-robin, skips replicas whose health service says NOT_SERVING (so a
// draining pod gets no new calls), and retries exactly UNAVAILABLE (inventory or its database did
// not answer) and ABORTED (its transaction was rolled back in a conflict): both mean the call
// changed nothing, and Reserve and Release are idempotent on the order id, so a retry cannot
// reserve twice. Other codes are answers and are never retried.
const serviceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "healthCheckConfig": {"serviceName": "meridian.inventory.v1.InventoryService"},
  "methodConfig": [{
    "name": [{"service": "meridian.inventory.v1.InventoryService"}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.05s",
      "maxBackoff": "1s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE", "ABORTED"]
    }
  }]
}`

// keepaliveTimeout is how long a ping may go unanswered before the connection is dropped.
const keepaliveTimeout = 10 * time.Second

// Options configure the client.
type Options struct {
	Target        string
	Timeout       time.Duration
	PoolSize      int
	KeepaliveTime time.Duration
	// Interceptors run on every call, after request id propagation (metrics, in production).
	Interceptors []grpc.UnaryClientInterceptor
	// StatsHandlers see every call (tracing, in production).
	StatsHandlers []stats.Handler
}

// Client calls the inventory service.
type Client struct {
	conns   []*grpc.ClientConn
	stubs   []inventoryv1.InventoryServiceClient
	next    atomic.Uint64
	timeout time.Duration
}

// New creates the channels. It does not wait for a connection: gRPC connects lazily and keeps
// reconnecting, so orders starts even while inventory is being rolled.
func New(o Options) (*Client, error) {
	chain := append([]grpc.UnaryClientInterceptor{obs.PropagateRequestID}, o.Interceptors...)
	dialOptions := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithResolvers(staticBuilder{}),
		grpc.WithDefaultServiceConfig(serviceConfig),
		grpc.WithChainUnaryInterceptor(chain...),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{
			Time:                o.KeepaliveTime,
			Timeout:             keepaliveTimeout,
			PermitWithoutStream: true,
		}),
	}
	for _, h := range o.StatsHandlers {
		dialOptions = append(dialOptions, grpc.WithStatsHandler(h))
	}
	c := &Client{timeout: o.Timeout}
	for range max(o.PoolSize, 1) {
		conn, err := grpc.NewClient(o.Target, dialOptions...)
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("inventory target %q: %w", o.Target, err)
		}
		c.conns = append(c.conns, conn)
		c.stubs = append(c.stubs, inventoryv1.NewInventoryServiceClient(conn))
	}
	return c, nil
}

func (c *Client) stub() inventoryv1.InventoryServiceClient {
	return c.stubs[c.next.Add(1)%uint64(len(c.stubs))]
}

// withDeadline bounds a call by the configured timeout, or the caller's deadline if sooner.
func (c *Client) withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// Reserve holds quantity units of sku for the order.
func (c *Client) Reserve(ctx context.Context, orderID, sku string, quantity int64) (*inventoryv1.ReserveResponse, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	return c.stub().Reserve(ctx, &inventoryv1.ReserveRequest{OrderId: orderID, Sku: sku, Quantity: quantity})
}

// Release gives the order's units back.
func (c *Client) Release(ctx context.Context, orderID string) (*inventoryv1.ReleaseResponse, error) {
	ctx, cancel := c.withDeadline(ctx)
	defer cancel()
	return c.stub().Release(ctx, &inventoryv1.ReleaseRequest{OrderId: orderID})
}

// Close closes every channel.
func (c *Client) Close() error {
	var first error
	for _, conn := range c.conns {
		if err := conn.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
