"""Prometheus metrics: the API's HTTP requests, the worker's business events and Temporal's own.

Every process keeps its metrics in a registry of its own (not prometheus_client's global one),
so two apps in one process (the tests) never share a counter. Labels are route templates,
methods, status codes and claim kinds: never a member, an ID number or a phone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    start_http_server,
)
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.logging import get_logger
from core.settings import Settings
from models.states import ClaimKind

log = get_logger(__name__)

UNMATCHED = "<unmatched>"  # a path no route answers (404): one label, whatever was asked
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


def route_template(scope: Mapping[str, Any]) -> str:
    """The template of the route that answered a request (``/claims/{claim_id}``), never the raw
    path: the router leaves the route in the ASGI scope."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED


class HttpMetrics:
    """The API's requests: a counter by route template, method and status, and latency histograms."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "unioncard_http_requests",
            "HTTP requests answered, by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "unioncard_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template and method.",
            ["route", "method"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, str(status)).inc()
        self.latency.labels(route, method).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class BusinessMetrics:
    """The worker's business events, each counted once when its database row changes (a retried
    activity finds the change made and counts nothing)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.batches_submitted = Counter(
            "unioncard_card_batches_submitted",
            "Card batches submitted to the bank (counted when the batch gets its number).",
            registry=self.registry,
        )
        self.cards_issued = Counter(
            "unioncard_cards_issued",
            "Cards the bank issued to members of card batches.",
            registry=self.registry,
        )
        self.enrollments_failed_unpaid = Counter(
            "unioncard_enrollments_failed_unpaid",
            "Enrollments that failed because the grassroots share was unpaid at the deadline.",
            registry=self.registry,
        )
        self.claims_paid = Counter(
            "unioncard_claims_paid", "Claims paid onto the member's card, by kind.", ["kind"], registry=self.registry
        )
        self.claims_paid_fen = Counter(
            "unioncard_claims_paid_amount_fen",
            "Amount paid out on claims, in fen (1/100 yuan), by kind.",
            ["kind"],
            registry=self.registry,
        )
        for kind in ClaimKind:  # every series exists from the start, at 0
            self.claims_paid.labels(kind.value)
            self.claims_paid_fen.labels(kind.value)

    def claim_paid(self, kind: str, amount_fen: int) -> None:
        self.claims_paid.labels(kind).inc()
        self.claims_paid_fen.labels(kind).inc(amount_fen)


def serve_business_metrics(settings: Settings, metrics: BusinessMetrics) -> WSGIServer | None:
    """Serve ``metrics`` on ``worker_metrics_port`` (0: not served). A port already taken (a second
    worker on the same machine) is logged and the worker runs on without them."""
    if not settings.worker_metrics_port:
        return None
    try:
        server, _ = start_http_server(settings.worker_metrics_port, settings.metrics_host, registry=metrics.registry)
    except OSError as exc:
        log.warning("worker metrics not served", port=settings.worker_metrics_port, error=str(exc))
        return None
    log.info("worker metrics served", address=f"{settings.metrics_host}:{settings.worker_metrics_port}")
    return server


def temporal_runtime(settings: Settings) -> Runtime | None:
    """A Temporal runtime exporting the SDK's own metrics (workflow and activity task latencies,
    failures, slots, sticky cache) on ``temporal_metrics_port``; None when that is 0 or taken (the
    client then uses the default runtime)."""
    if not settings.temporal_metrics_port:
        return None
    address = f"{settings.metrics_host}:{settings.temporal_metrics_port}"
    try:
        runtime = Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except ValueError as exc:  # the exporter could not bind
        log.warning("Temporal metrics not served", port=settings.temporal_metrics_port, error=str(exc))
        return None
    log.info("Temporal metrics served", address=address)
    return runtime
