package app

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/inventory/v1"
	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/config"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
	"github.com/meridian-platform/meridian/apps/orders/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// stubInventory is a scripted inventory service on a real loopback gRPC server; the real
// (Python) one is exercised by the end-to-end suite.
type stubInventory struct {
	inventoryv1.UnimplementedInventoryServiceServer
	mu         sync.Mutex
	stock      map[string]int64
	held       map[string]int64
	script     []codes.Code // codes to answer, one per call, before behaving normally
	requestIDs []string
	deadlines  []bool
	calls      atomic.Int32
	entered    chan struct{} // receives when a Reserve starts, if set
	release    chan struct{} // Reserve waits for it, if set
}

func (s *stubInventory) Reserve(ctx context.Context, req *inventoryv1.ReserveRequest) (*inventoryv1.ReserveResponse, error) {
	s.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	_, hasDeadline := ctx.Deadline()
	s.mu.Lock()
	s.requestIDs = append(s.requestIDs, strings.Join(md.Get(obs.RequestIDHeader), ","))
	s.deadlines = append(s.deadlines, hasDeadline)
	var scripted codes.Code
	if len(s.script) > 0 {
		scripted, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if scripted != codes.OK {
		return nil, status.Error(scripted, "scripted failure")
	}
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.release != nil {
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, status.FromContextError(ctx.Err()).Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, done := s.held[req.GetOrderId()]; done {
		return &inventoryv1.ReserveResponse{}, nil
	}
	available, known := s.stock[req.GetSku()]
	switch {
	case !known:
		return nil, status.Errorf(codes.NotFound, "no item has SKU %q", req.GetSku())
	case available < req.GetQuantity():
		return nil, status.Errorf(codes.FailedPrecondition, "SKU %q has %d units available", req.GetSku(), available)
	}
	s.stock[req.GetSku()] -= req.GetQuantity()
	s.held[req.GetOrderId()] = req.GetQuantity()
	return &inventoryv1.ReserveResponse{}, nil
}

func (s *stubInventory) Release(_ context.Context, req *inventoryv1.ReleaseRequest) (*inventoryv1.ReleaseResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.held[req.GetOrderId()]; !ok {
		return nil, status.Error(codes.NotFound, "no reservation")
	}
	return &inventoryv1.ReleaseResponse{}, nil
}

func startStub(t *testing.T, stub *stubInventory) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	inventoryv1.RegisterInventoryServiceServer(srv, stub)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

type harness struct {
	app    *App
	client ordersv1.OrdersServiceClient
	conn   *grpc.ClientConn
	stub   *stubInventory
}

func start(t *testing.T, stub *stubInventory, adjust func(*config.Config)) *harness {
	t.Helper()
	return startOn(t, pgtest.Require(t), stub, adjust)
}

// startOn starts the service on a database of server pg.
func startOn(t *testing.T, pg *pgtest.Server, stub *stubInventory, adjust func(*config.Config)) *harness {
	t.Helper()
	db := pg.NewDatabase(t)
	db.CheckInterval = 5 * time.Second
	if stub.stock == nil {
		stub.stock = map[string]int64{"SKU-1": 5}
	}
	stub.held = map[string]int64{}
	cfg := config.Config{
		Database:            db,
		Inventory:           config.Inventory{Target: "ipv4:" + startStub(t, stub), Timeout: 5 * time.Second, PoolSize: 2},
		ShutdownGracePeriod: 30 * time.Second, LogLevel: "info", AppVersion: "1.0.0",
		GRPCMaxRecvMsgBytes: 4 << 20, GRPCMaxConcurrentStreams: 100,
		GRPCKeepaliveTime: 30 * time.Second, GRPCKeepaliveMinTime: 10 * time.Second, Middleware: true,
	}
	if adjust != nil {
		adjust(&cfg)
	}
	a, err := Start(context.Background(), cfg, obs.NewLogger(io.Discard, "info", Name, "test", "test"), "abc123")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	conn, err := grpc.NewClient(a.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		a.Shutdown()
	})
	return &harness{app: a, client: ordersv1.NewOrdersServiceClient(conn), conn: conn, stub: stub}
}

func newRequest(requestID string, quantity int64) *ordersv1.CreateOrderRequest {
	return &ordersv1.CreateOrderRequest{RequestId: requestID, CustomerId: "customer-1", Sku: "SKU-1", Quantity: quantity}
}

func TestCreateOrderConfirmsAndIsIdempotent(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	ctx := context.Background()
	first, err := h.client.CreateOrder(ctx, newRequest("req-1", 2))
	if err != nil {
		t.Fatal(err)
	}
	if first.GetOrder().GetState() != ordersv1.OrderState_ORDER_STATE_CONFIRMED {
		t.Fatalf("state = %v, want CONFIRMED", first.GetOrder().GetState())
	}
	again, err := h.client.CreateOrder(ctx, newRequest("req-1", 2))
	if err != nil || again.GetOrder().GetId() != first.GetOrder().GetId() {
		t.Fatalf("retry = %v, %v; want the same order", again, err)
	}
	if h.stub.stock["SKU-1"] != 3 {
		t.Errorf("stock = %d, want 3: a retry must not reserve again", h.stub.stock["SKU-1"])
	}
	_, err = h.client.CreateOrder(ctx, newRequest("req-1", 3))
	if status.Code(err) != codes.AlreadyExists {
		t.Errorf("reusing request_id for a different order: %v, want AlreadyExists", err)
	}
	got, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: first.GetOrder().GetId()})
	if err != nil || got.GetOrder().GetRequestId() != "req-1" {
		t.Errorf("GetOrder = %v, %v", got, err)
	}
}

func TestInventoryCallsAreRetriedOnUnavailableAndAbortedOnly(t *testing.T) {
	h := start(t, &stubInventory{script: []codes.Code{codes.Unavailable, codes.Aborted}}, nil)
	ctx := context.Background()
	if _, err := h.client.CreateOrder(ctx, newRequest("req-retry", 1)); err != nil {
		t.Fatalf("CreateOrder after UNAVAILABLE and ABORTED answers: %v", err)
	}
	if got := h.stub.calls.Load(); got != 3 {
		t.Errorf("inventory saw %d attempts, want 3 (two retried failures, one success)", got)
	}

	h.stub.calls.Store(0)
	h.stub.script = []codes.Code{codes.Internal}
	_, err := h.client.CreateOrder(ctx, newRequest("req-internal", 1))
	if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "pending") {
		t.Fatalf("CreateOrder with INTERNAL from inventory = %v, want UNAVAILABLE saying the order is pending", err)
	}
	if got := h.stub.calls.Load(); got != 1 {
		t.Errorf("inventory saw %d attempts for INTERNAL, want 1 (never retried)", got)
	}
	done, err := h.client.CreateOrder(ctx, newRequest("req-internal", 1))
	if err != nil || done.GetOrder().GetState() != ordersv1.OrderState_ORDER_STATE_CONFIRMED {
		t.Errorf("retrying with the same request_id = %v, %v; want it confirmed", done, err)
	}
}

func TestRefusedReservationLeavesNoOrder(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	ctx := context.Background()
	_, err := h.client.CreateOrder(ctx, newRequest("req-big", 6))
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("ordering more than the stock: %v, want FailedPrecondition", err)
	}
	list, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{})
	if err != nil || len(list.GetOrders()) != 0 {
		t.Errorf("orders after a refusal = %v, %v; want none", list.GetOrders(), err)
	}
}

func TestBadInputListsFieldViolations(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	ctx := context.Background()
	_, err := h.client.CreateOrder(ctx, &ordersv1.CreateOrderRequest{Sku: "no spaces", Quantity: 1001})
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument || len(st.Details()) != 1 {
		t.Fatalf("CreateOrder with bad fields = %v", err)
	}
	fields := map[string]bool{}
	for _, v := range st.Details()[0].(*errdetails.BadRequest).GetFieldViolations() {
		fields[v.GetField()] = true
	}
	for _, want := range []string{"request_id", "customer_id", "sku", "quantity"} {
		if !fields[want] {
			t.Errorf("no violation for %s in %v", want, fields)
		}
	}
	if _, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: "42"}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("GetOrder with a bad id = %v", err)
	}
	if _, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: uuid.NewString()}); status.Code(err) != codes.NotFound {
		t.Errorf("GetOrder with an unknown id = %v", err)
	}
	_, err = h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{PageSize: -1, PageToken: "garbage"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || len(st.Details()[0].(*errdetails.BadRequest).GetFieldViolations()) != 2 {
		t.Errorf("ListOrders with bad paging = %v", err)
	}
}

func TestListOrdersPagesOldestFirst(t *testing.T) {
	h := start(t, &stubInventory{stock: map[string]int64{"SKU-1": 100}}, nil)
	ctx := context.Background()
	var created []string
	for i := range 5 {
		r, err := h.client.CreateOrder(ctx, newRequest("req-page-"+string(rune('a'+i)), 1))
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, r.GetOrder().GetId())
	}
	var listed []string
	token := ""
	for {
		page, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{PageSize: 2, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.GetOrders() {
			listed = append(listed, o.GetId())
		}
		if token = page.GetNextPageToken(); token == "" {
			break
		}
	}
	if strings.Join(listed, ",") != strings.Join(created, ",") {
		t.Errorf("listed %v, want %v", listed, created)
	}
}

func TestRequestIDAndDeadlineReachInventory(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	ctx := metadata.AppendToOutgoingContext(context.Background(), obs.RequestIDHeader, "trace-7")
	var header metadata.MD
	if _, err := h.client.CreateOrder(ctx, newRequest("req-trace", 1), grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get(obs.RequestIDHeader); len(got) != 1 || got[0] != "trace-7" {
		t.Errorf("response header x-request-id = %v, want [trace-7]", got)
	}
	if _, err := h.client.CreateOrder(context.Background(), newRequest("req-no-trace", 1)); err != nil {
		t.Fatal(err)
	}
	h.stub.mu.Lock()
	defer h.stub.mu.Unlock()
	if h.stub.requestIDs[0] != "trace-7" {
		t.Errorf("inventory saw request id %q, want trace-7", h.stub.requestIDs[0])
	}
	if _, err := uuid.Parse(h.stub.requestIDs[1]); err != nil {
		t.Errorf("without x-request-id, inventory saw %q, want a generated UUID", h.stub.requestIDs[1])
	}
	for i, had := range h.stub.deadlines {
		if !had {
			t.Errorf("inventory call %d had no deadline", i)
		}
	}
}

func TestMetricsEndpointExportsSharedNames(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	if _, err := h.client.CreateOrder(context.Background(), newRequest("req-metrics", 1)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + h.app.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`grpc_server_handled_total{grpc_code="OK",grpc_method="CreateOrder",grpc_service="meridian.orders.v1.OrdersService",grpc_type="unary"} 1`,
		`grpc_server_handling_seconds_bucket{grpc_method="CreateOrder",grpc_service="meridian.orders.v1.OrdersService",grpc_type="unary",le="0.005"}`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="Reserve",grpc_service="meridian.inventory.v1.InventoryService",grpc_type="unary"} 1`,
		`grpc_client_handling_seconds_bucket{grpc_method="Reserve"`,
		`meridian_build_info{app="orders",revision="abc123",version="1.0.0"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// shutdownUntilNotServing watches the health service, checks it says SERVING, calls started
// (which may start calls), begins Shutdown and returns once the watch says NOT_SERVING, with a
// channel closed when Shutdown has returned. The watch then ends: an open stream would hold the
// graceful stop.
func shutdownUntilNotServing(t *testing.T, h *harness, started func()) <-chan struct{} {
	t.Helper()
	watchCtx, endWatch := context.WithCancel(context.Background())
	defer endWatch()
	watch, err := healthpb.NewHealthClient(h.conn).Watch(watchCtx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health before shutdown = %v, %v", first, err)
	}
	started()
	stopped := make(chan struct{})
	go func() {
		h.app.Shutdown()
		close(stopped)
	}()
	if next, err := watch.Recv(); err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health during shutdown = %v, %v; want NOT_SERVING", next, err)
	}
	return stopped
}

func TestShutdownReportsNotServingAndDrainsCallsInFlight(t *testing.T) {
	stub := &stubInventory{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h := start(t, stub, nil)
	result := make(chan error, 1)
	stopped := shutdownUntilNotServing(t, h, func() {
		go func() {
			_, err := h.client.CreateOrder(context.Background(), newRequest("req-drain", 1))
			result <- err
		}()
		<-stub.entered // the call is inside inventory now
	})
	close(stub.release)
	if err := <-result; err != nil {
		t.Errorf("the call in flight failed during shutdown: %v", err)
	}
	<-stopped
}

// scrape returns the metrics endpoint's text.
func scrape(t *testing.T, a *App) string {
	t.Helper()
	resp, err := http.Get("http://" + a.MetricsAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// eventually retries check every 50ms for up to 30s, and fails the test with its last error.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

func metricIs(t *testing.T, a *App, line string) func() error {
	return func() error {
		if !strings.Contains(scrape(t, a), line) {
			return fmt.Errorf("metrics lack %q", line)
		}
		return nil
	}
}

func TestDatabaseOutageAnswersUnavailableStaysServingAndRecovers(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops its own PostgreSQL")
	}
	pgtest.Require(t) // the binaries are there
	pg, err := pgtest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pg.Stop)
	h := startOn(t, pg, &stubInventory{}, func(c *config.Config) { c.Database.CheckInterval = 50 * time.Millisecond })
	ctx := context.Background()
	first, err := h.client.CreateOrder(ctx, newRequest("req-before", 1))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "database reported up", metricIs(t, h.app, "meridian_database_up 1"))

	if err := pg.Halt(); err != nil {
		t.Fatal(err)
	}
	calls := map[string]func() error{
		"CreateOrder": func() error { _, err := h.client.CreateOrder(ctx, newRequest("req-during", 1)); return err },
		"GetOrder": func() error {
			_, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: first.GetOrder().GetId()})
			return err
		},
		"ListOrders": func() error { _, err := h.client.ListOrders(ctx, &ordersv1.ListOrdersRequest{}); return err },
		"CancelOrder": func() error {
			_, err := h.client.CancelOrder(ctx, &ordersv1.CancelOrderRequest{Id: first.GetOrder().GetId()})
			return err
		},
	}
	for name, call := range calls {
		for range 3 { // pooled connections first, then new ones that find no server
			if err := call(); status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "retry") {
				t.Errorf("%s with PostgreSQL stopped = %v, want UNAVAILABLE saying to retry", name, err)
			}
		}
	}
	eventually(t, "database reported down", metricIs(t, h.app, "meridian_database_up 0"))
	// Readiness stays SERVING: the database is shared, and failing it would take every replica
	// out of its Service at once.
	for _, service := range []string{"", ordersv1.OrdersService_ServiceDesc.ServiceName} {
		got, err := healthpb.NewHealthClient(h.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil || got.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q with PostgreSQL stopped = %v, %v; want SERVING", service, got, err)
		}
	}

	if err := pg.Resume(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "CreateOrder after PostgreSQL started again", func() error {
		done, err := h.client.CreateOrder(ctx, newRequest("req-during", 1))
		if err == nil && done.GetOrder().GetState() != ordersv1.OrderState_ORDER_STATE_CONFIRMED {
			return fmt.Errorf("state %v", done.GetOrder().GetState())
		}
		return err
	})
	eventually(t, "database reported up again", metricIs(t, h.app, "meridian_database_up 1"))
}

func TestATransactionRolledBackInAConflictIsAborted(t *testing.T) {
	h := start(t, &stubInventory{}, nil)
	ctx := context.Background()
	admin, err := pgtest.Require(t).Admin(ctx, h.app.cfg.Database.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	// PostgreSQL itself fails the first insert as a serialization failure, as it would a
	// transaction that lost a conflict; a sequence counts attempts across the rollback.
	if _, err := admin.Exec(ctx, `CREATE SEQUENCE attempts;
		CREATE FUNCTION fail_first() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
		BEGIN
			IF nextval('attempts') = 1 THEN
				RAISE EXCEPTION 'could not serialize access' USING ERRCODE = 'serialization_failure';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER fail_first BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION fail_first()`); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.CreateOrder(ctx, newRequest("req-conflict", 1))
	if status.Code(err) != codes.Aborted || !strings.Contains(err.Error(), "retry") {
		t.Fatalf("CreateOrder whose insert hit a serialization failure = %v, want ABORTED saying to retry", err)
	}
	done, err := h.client.CreateOrder(ctx, newRequest("req-conflict", 1))
	if err != nil || done.GetOrder().GetState() != ordersv1.OrderState_ORDER_STATE_CONFIRMED {
		t.Errorf("the retry = %v, %v; want the order confirmed", done, err)
	}
}

func TestShutdownKeepsTakingCallsForTheDrainDelay(t *testing.T) {
	h := start(t, &stubInventory{}, func(c *config.Config) { c.ShutdownDrainDelay = 3 * time.Second })
	ctx := context.Background()
	order, err := h.client.CreateOrder(ctx, newRequest("req-drain-delay", 1))
	if err != nil {
		t.Fatal(err)
	}
	stopped := shutdownUntilNotServing(t, h, func() {})
	// A client that has not yet seen NOT_SERVING still sends calls here; they must be answered.
	if _, err := h.client.GetOrder(ctx, &ordersv1.GetOrderRequest{Id: order.GetOrder().GetId()}); err != nil {
		t.Errorf("a call during the drain delay failed: %v", err)
	}
	<-stopped
}
