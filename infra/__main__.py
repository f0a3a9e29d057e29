"""Pulumi entry point: stack `<env>` declares the platform of `environments/<env>/platform.yaml`."""

from meridian_infra.stack import run

run()
