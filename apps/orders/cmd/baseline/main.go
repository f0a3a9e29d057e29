// Command baseline is a bare grpc-go OrdersService that answers every call with a canned order:
// no database, no interceptors, no inventory. apps/bench measures it beside the real service, so
// the difference is what storage, middleware and the inventory call cost.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
)

type canned struct {
	ordersv1.UnimplementedOrdersServiceServer
	order *ordersv1.Order
}

func (c canned) CreateOrder(context.Context, *ordersv1.CreateOrderRequest) (*ordersv1.CreateOrderResponse, error) {
	return &ordersv1.CreateOrderResponse{Order: c.order}, nil
}

func (c canned) GetOrder(context.Context, *ordersv1.GetOrderRequest) (*ordersv1.GetOrderResponse, error) {
	return &ordersv1.GetOrderResponse{Order: c.order}, nil
}

func main() {
	port := os.Getenv("GRPC_PORT")
	if port == "" {
		port = "50051"
	}
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
	now := timestamppb.New(time.Now())
	server := grpc.NewServer()
	ordersv1.RegisterOrdersServiceServer(server, canned{order: &ordersv1.Order{
		Id: "0b9d6c1e-3f1a-4d2b-9c55-2f7a8e4b1d00", RequestId: "req", CustomerId: "customer", Sku: "SKU-1",
		Quantity: 1, State: ordersv1.OrderState_ORDER_STATE_CONFIRMED, CreateTime: now, UpdateTime: now,
	}})
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
		<-stop
		server.GracefulStop()
	}()
	if err := server.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "baseline:", err)
		os.Exit(1)
	}
}
