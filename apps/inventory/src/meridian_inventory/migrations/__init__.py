"""Numbered SQL migrations, applied in order by meridian_inventory.migrate."""
