"""Prometheus metrics, per app; across gunicorn workers through the multiprocess mode.

``/metrics`` answers only with ``Authorization: Bearer <IDP_METRICS_TOKEN>`` when a token is
configured, else only to loopback clients (a scraper on the host), unless
``IDP_METRICS_PUBLIC`` opens it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from idp.runtime import get_runtime
from idp.security.origins import is_loopback_host
from idp.security.secrets import constant_time_equals

KEY = "idp.metrics"
metrics_view = Blueprint("metrics", __name__)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True)
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    signins: Counter
    tokens: Counter
    upstream: Histogram
    backchannel_logouts: Counter


def create_metrics() -> Metrics:
    registry = CollectorRegistry(auto_describe=True)
    return Metrics(
        registry=registry,
        requests=Counter(
            "idp_http_requests",
            "HTTP requests",
            ["endpoint", "method", "status"],
            registry=registry,
        ),
        latency=Histogram(
            "idp_http_request_duration_seconds",
            "Time to answer",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=registry,
        ),
        signins=Counter(
            "idp_signins",
            "Finished sign-ins by provider and outcome",
            ["provider", "outcome"],
            registry=registry,
        ),
        tokens=Counter("idp_tokens_issued", "Tokens issued", ["kind"], registry=registry),
        upstream=Histogram(
            "idp_upstream_request_duration_seconds",
            "Time an upstream provider took, by outcome",
            ["provider", "outcome"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
            registry=registry,
        ),
        backchannel_logouts=Counter(
            "idp_backchannel_logouts",
            "Logout tokens sent to clients, by outcome",
            ["outcome"],
            registry=registry,
        ),
    )


def metrics(app: Flask | None = None) -> Metrics:
    found: Metrics = (app or current_app).extensions[KEY]
    return found


def init_app(app: Flask) -> None:
    app.extensions[KEY] = create_metrics()

    @app.before_request
    def start_timer() -> None:
        g.metrics_started = time.perf_counter()

    @app.after_request
    def count(response: Response) -> Response:
        started = g.get("metrics_started")
        endpoint = request.endpoint or "unknown"
        recorded = metrics(app)
        recorded.requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if started is not None:
            recorded.latency.labels(endpoint).observe(time.perf_counter() - started)
        return response

    app.register_blueprint(metrics_view)


def _allowed() -> bool:
    settings = get_runtime().settings
    if settings.metrics_token:
        presented = request.headers.get("Authorization", "")
        return presented.startswith("Bearer ") and constant_time_equals(
            presented[7:], settings.metrics_token
        )
    return settings.metrics_public or is_loopback_host(request.remote_addr or "")


@metrics_view.get("/metrics")
def scrape() -> Response:
    if not _allowed():
        abort(404)  # as if it were not there
    if os.environ.get(MULTIPROCESS):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry = metrics().registry
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)
