"""Meridian inventory service: stock levels and reservations over gRPC, stored in PostgreSQL."""

APP_NAME = "inventory"
