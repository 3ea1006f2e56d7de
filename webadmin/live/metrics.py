"""The site's /metrics for Prometheus: open live connections, requests, request latency.

Under gunicorn (gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR) every worker writes its
figures to that folder and /metrics sums them; without it the figures are this process's.
Only the addresses of CALLCARDS_METRICS_ALLOW or the bearer CALLCARDS_METRICS_TOKEN may
read it: 403 for others, 404 when neither is set.
"""

from __future__ import annotations

import hmac
import ipaddress
import time

from flask import Flask, Response, abort, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

LIVE_CONNECTIONS = Gauge(
    "callcards_site_live_connections",
    "Live streams (Server-Sent Events) open now",
    multiprocess_mode="livesum",
)
REQUESTS = Counter(
    "callcards_site_requests", "Requests answered, by endpoint and status", ["endpoint", "status"]
)
LATENCY = Histogram(
    "callcards_site_request_seconds",
    "Time to answer a request (a live stream: to its first byte), by endpoint",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


def _started() -> None:
    g.metrics_started = time.perf_counter()


def _answered(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.endpoint or "unknown"  # unknown: a 404 (never the raw path)
        REQUESTS.labels(endpoint, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(time.perf_counter() - started)
    return response


Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def allowed(allow: Networks, token: str) -> bool | None:
    """Whether this request may read /metrics; None when nobody may (the page is hidden)."""
    if not allow and not token:
        return None
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token):
            return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    return any(address in network for network in allow)


def metrics_text(many_workers: bool) -> bytes:
    """The figures in Prometheus' text format (every worker's, summed, under gunicorn)."""
    if many_workers:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()


def init_app(app: Flask) -> None:
    """Count every request and serve /metrics (outside any blueprint: no sign-in)."""
    app.before_request(_started)
    app.after_request(_answered)
    settings = app.config["CALLCARDS_SETTINGS"]
    # A wrong entry stops the start with ValueError naming it, not a 500 at each scrape.
    networks = tuple(ipaddress.ip_network(entry, strict=False) for entry in settings.metrics_allow)

    def metrics() -> Response:
        verdict = allowed(networks, settings.metrics_token)
        if verdict is None:
            abort(404)
        if not verdict:
            abort(403)
        return Response(metrics_text(bool(settings.metrics_dir)), mimetype=CONTENT_TYPE_LATEST)

    app.add_url_rule("/metrics", "metrics", metrics, methods=["GET"])
