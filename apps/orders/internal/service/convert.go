package service

import (
	"google.golang.org/protobuf/types/known/timestamppb"

	ordersv1 "github.com/meridian-platform/meridian/apps/orders/gen/meridian/orders/v1"
	"github.com/meridian-platform/meridian/apps/orders/internal/store"
)

var states = map[string]ordersv1.OrderState{
	store.Pending:   ordersv1.OrderState_ORDER_STATE_PENDING,
	store.Confirmed: ordersv1.OrderState_ORDER_STATE_CONFIRMED,
	store.Cancelled: ordersv1.OrderState_ORDER_STATE_CANCELLED,
}

func toProto(o store.Order) *ordersv1.Order {
	return &ordersv1.Order{
		Id:         o.ID.String(),
		RequestId:  o.RequestID,
		CustomerId: o.CustomerID,
		Sku:        o.SKU,
		Quantity:   o.Quantity,
		State:      states[o.State],
		CreateTime: timestamppb.New(o.CreateTime),
		UpdateTime: timestamppb.New(o.UpdateTime),
	}
}
