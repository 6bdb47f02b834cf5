"""Defaults of ``pubnet dashboards build``; no SDK import, so ``--help`` works without the
``dashboards`` extra."""

from __future__ import annotations

from typing import Final

PROMETHEUS_URL: Final = "http://prometheus:9090"
"""The datasource's Prometheus, as the compose stack names it."""
DASHBOARDS_PATH: Final = "/var/lib/grafana/dashboards/pubnet"
"""Where the compose stack mounts ``DIR/dashboards`` inside the Grafana container."""
SCRAPE_INTERVAL: Final = "30s"
"""Prometheus' scrape interval for pubnet (docs/prometheus.md); Grafana's
``$__rate_interval`` is four of them."""
FOLDER: Final = "pubnet"
"""The Grafana folder the dashboards go to (provisioning and push)."""
