"""Prometheus metrics of the API.

With several uvicorn workers each process counts on its own; set PROMETHEUS_MULTIPROC_DIR (an empty directory
shared by the workers; a field of core.config.Settings, which `asesor api serve` exports for prometheus_client)
and /metrics aggregates them with prometheus_client's multiprocess collector.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

REQUESTS = Counter("asesor_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "asesor_http_request_duration_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
ASSESSMENTS = Counter("asesor_assessments_total", "Assessments run through the API", ["decision"])
HANDOFF = Counter(
    "asesor_handoff_total", "Handoff page outcomes", ["outcome"]
)  # opened | submitted | duplicate | expired | invalid | used
ESCALATION_ACTIONS = Counter("asesor_escalation_actions_total", "Advisor actions", ["action"])


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    LATENCY.labels(method, route).observe(seconds)


def render(extra: Collector | None = None, multiproc_dir: Path | None = None) -> tuple[bytes, str]:
    """The exposition; `extra` is a collector of values that belong to the database, not to a process (the
    model's PSI): computed by the worker that answers the scrape, never summed across workers. `multiproc_dir`:
    Settings.prometheus_multiproc_dir (the workers' shared directory), when several workers count."""
    if multiproc_dir is not None:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(multiproc_dir))
        body = generate_latest(registry)
    else:
        body = generate_latest()
    if extra is not None:
        own = CollectorRegistry(auto_describe=False)
        own.register(extra)
        body += generate_latest(own)
    return body, CONTENT_TYPE_LATEST
