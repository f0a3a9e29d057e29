"""Metrics, alerts, dashboards and logs: the Prometheus / Alertmanager / Grafana / Loki / Alloy
releases (stack.py), each app's SLO alerts (slo.py) and dashboards (dashboards.py)."""
