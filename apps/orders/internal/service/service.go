// Package service implements meridian.orders.v1.OrdersService.
package service

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	inventoryv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/inventory/v1"
	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/dberr"
	"github.com/meridian-platform/meridian/apps/orders/internal/obs"
	"github.com/meridian-platform/meridian/apps/orders/internal/store"
	"github.com/meridian-platform/meridian/apps/orders/internal/watch"
)

// Inventory is what the service needs from the inventory client.
type Inventory interface {
	Reserve(ctx context.Context, orderID, sku string, quantity int64) (*inventoryv1.ReserveResponse, error)
	Release(ctx context.Context, orderID string) (*inventoryv1.ReleaseResponse, error)
}

// followUpTimeout bounds the database writes that record what inventory answered. They run even
// if the caller has gone, so the order's row matches the stock inventory holds for it.
const followUpTimeout = 10 * time.Second

// Service handles the OrdersService calls.
type Service struct {
	ordersv1.UnimplementedOrdersServiceServer
	store     *store.Store
	inventory Inventory
	hub       *watch.Hub
	log       *slog.Logger
}

// New returns the service.
func New(s *store.Store, inv Inventory, hub *watch.Hub, log *slog.Logger) *Service {
	return &Service{store: s, inventory: inv, hub: hub, log: log}
}

// dbFailure turns a failed database call into the call's answer. A database that did not answer
// is UNAVAILABLE and a transaction PostgreSQL rolled back in a conflict is ABORTED: both mean
// "retry the call", and every method here is safe to retry. Anything else is INTERNAL, logged in
// full under the call's request id (the client sees no SQL).
func dbFailure(ctx context.Context, log *slog.Logger, what string, err error) error {
	if ctx.Err() != nil { // the caller left or ran out of time; that, not the database, is the answer
		return status.FromContextError(ctx.Err()).Err()
	}
	switch code := dberr.Code(err); code {
	case codes.Unavailable:
		log.WarnContext(ctx, what+" failed: the database did not answer", "error", err.Error(), "request_id", obs.RequestID(ctx))
		return status.Errorf(code, "%s failed: the database did not answer; retry the call", what)
	case codes.Aborted:
		log.WarnContext(ctx, what+" failed: the transaction lost a conflict", "error", err.Error(), "request_id", obs.RequestID(ctx))
		return status.Errorf(code, "%s failed: it conflicted with a concurrent change and was rolled back; retry the call", what)
	}
	log.ErrorContext(ctx, what, "error", err.Error(), "request_id", obs.RequestID(ctx))
	return status.Errorf(codes.Internal, "%s failed; the error is logged under this call's request id", what)
}

// CreateOrder records the order as pending, reserves its stock, then confirms it. A pending order
// is the only in-between state and it is safe to retry: Reserve is idempotent on the order id.
func (s *Service) CreateOrder(ctx context.Context, req *ordersv1.CreateOrderRequest) (*ordersv1.CreateOrderResponse, error) {
	if err := checkCreate(req); err != nil {
		return nil, err
	}
	order, created, err := s.store.CreatePending(ctx, req.GetRequestId(), req.GetCustomerId(), req.GetSku(), req.GetQuantity())
	if err != nil {
		return nil, dbFailure(ctx, s.log, "recording the order", err)
	}
	if !created && (order.SKU != req.GetSku() || order.Quantity != req.GetQuantity() || order.CustomerID != req.GetCustomerId()) {
		return nil, status.Errorf(codes.AlreadyExists,
			"request_id %q was already used for order %s with different contents; use a new request_id for a new order",
			req.GetRequestId(), order.ID)
	}
	if order.State != store.Pending {
		return &ordersv1.CreateOrderResponse{Order: toProto(order)}, nil
	}

	_, reserveErr := s.inventory.Reserve(ctx, order.ID.String(), order.SKU, order.Quantity)
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), followUpTimeout)
	defer cancel()
	switch status.Code(reserveErr) {
	case codes.OK:
		confirmed, changed, err := s.store.Transition(after, order.ID, store.Confirmed, store.Pending)
		if err != nil {
			return nil, dbFailure(ctx, s.log, "confirming the order", err)
		}
		if !changed && confirmed.State == store.Cancelled {
			// Cancelled while its stock was being reserved: give the stock back.
			if _, err := s.inventory.Release(after, order.ID.String()); err != nil {
				s.log.WarnContext(ctx, "releasing the stock of an order cancelled during creation", "order_id", order.ID, "error", err.Error())
			}
		}
		return &ordersv1.CreateOrderResponse{Order: toProto(confirmed)}, nil
	case codes.FailedPrecondition, codes.NotFound, codes.InvalidArgument, codes.AlreadyExists:
		// Inventory said no: nothing is reserved, so the pending order goes and a retry starts over.
		if err := s.store.DeletePending(after, order.ID); err != nil {
			return nil, dbFailure(ctx, s.log, "withdrawing the order", err)
		}
		return nil, fromInventory(reserveErr)
	default:
		// No answer (UNAVAILABLE after retries, deadline, cancellation): the stock may or may not be
		// held. The order stays pending, and a retry with the same request_id finishes it.
		return nil, status.Errorf(codes.Unavailable,
			"inventory did not confirm the reservation (%s); order %s is pending: retry with the same request_id",
			status.Convert(reserveErr).Message(), order.ID)
	}
}

// fromInventory passes inventory's refusal on with its code and details, prefixed with context.
func fromInventory(err error) error {
	st := status.Convert(err)
	p := st.Proto()
	p.Message = "inventory refused the reservation: " + p.GetMessage()
	return status.FromProto(p).Err()
}

// order reads the order a call names: INVALID_ARGUMENT for a malformed id, NOT_FOUND for an id no
// order has.
func (s *Service) order(ctx context.Context, rawID string) (store.Order, error) {
	id, err := parseID("id", rawID)
	if err != nil {
		return store.Order{}, err
	}
	order, err := s.store.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Order{}, status.Errorf(codes.NotFound, "no order has id %s", id)
	}
	if err != nil {
		return store.Order{}, dbFailure(ctx, s.log, "reading the order", err)
	}
	return order, nil
}

// GetOrder returns one order.
func (s *Service) GetOrder(ctx context.Context, req *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	order, err := s.order(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	return &ordersv1.GetOrderResponse{Order: toProto(order)}, nil
}

// ListOrders returns one page of orders, oldest first.
func (s *Service) ListOrders(ctx context.Context, req *ordersv1.ListOrdersRequest) (*ordersv1.ListOrdersResponse, error) {
	size, after, err := parseList(req.GetPageSize(), req.GetPageToken())
	if err != nil {
		return nil, err
	}
	// One row more than the page says whether another page follows, without a second query.
	rows, err := s.store.List(ctx, after, size+1)
	if err != nil {
		return nil, dbFailure(ctx, s.log, "listing orders", err)
	}
	resp := &ordersv1.ListOrdersResponse{}
	for i, o := range rows {
		if i == size {
			resp.NextPageToken = encodeToken(rows[size-1].Seq)
			break
		}
		resp.Orders = append(resp.Orders, toProto(o))
	}
	return resp, nil
}

// CancelOrder releases the order's stock, then marks it cancelled. Both steps are idempotent, so a
// retry after any failure completes the cancellation.
func (s *Service) CancelOrder(ctx context.Context, req *ordersv1.CancelOrderRequest) (*ordersv1.CancelOrderResponse, error) {
	order, err := s.order(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	if order.State == store.Cancelled {
		return &ordersv1.CancelOrderResponse{Order: toProto(order)}, nil
	}
	// NOT_FOUND: a pending order whose reservation never landed; there is nothing to give back.
	if _, err := s.inventory.Release(ctx, order.ID.String()); err != nil && status.Code(err) != codes.NotFound {
		return nil, status.Errorf(codes.Unavailable,
			"inventory did not release the stock (%s); the order is unchanged: retry CancelOrder", status.Convert(err).Message())
	}
	after, cancel := context.WithTimeout(context.WithoutCancel(ctx), followUpTimeout)
	defer cancel()
	cancelled, _, err := s.store.Transition(after, order.ID, store.Cancelled, store.Pending, store.Confirmed)
	if err != nil {
		return nil, dbFailure(ctx, s.log, "cancelling the order", err)
	}
	return &ordersv1.CancelOrderResponse{Order: toProto(cancelled)}, nil
}

// WatchOrder streams the order's state: now, then after every change, until it is cancelled.
func (s *Service) WatchOrder(req *ordersv1.WatchOrderRequest, stream ordersv1.OrdersService_WatchOrderServer) error {
	id, err := parseID("id", req.GetId())
	if err != nil {
		return err
	}
	ctx := stream.Context()
	// Subscribe before the first read, so a change committed in between is not missed.
	sub := s.hub.Subscribe(id.String())
	defer s.hub.Unsubscribe(sub)
	var last store.Order
	for {
		order, err := s.store.Get(ctx, id)
		switch {
		case errors.Is(err, store.ErrNotFound) && last.ID == id:
			return status.Errorf(codes.NotFound, "order %s was withdrawn: its stock could not be reserved", id)
		case errors.Is(err, store.ErrNotFound):
			return status.Errorf(codes.NotFound, "no order has id %s", id)
		case ctx.Err() != nil:
			return status.FromContextError(ctx.Err()).Err()
		case err != nil:
			return dbFailure(ctx, s.log, "reading the order", err)
		}
		if order.State != last.State || !order.UpdateTime.Equal(last.UpdateTime) {
			if err := stream.Send(&ordersv1.WatchOrderResponse{Order: toProto(order)}); err != nil {
				return err
			}
			last = order
		}
		if order.State == store.Cancelled {
			return nil
		}
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case _, open := <-sub.C:
			if !open {
				return status.Error(codes.Unavailable, "the server is shutting down; watch again")
			}
		}
	}
}
