"""Prometheus metrics of the FastAGI server (`callcards agi`) and its `/metrics` endpoint.

Off unless CALLCARDS_AGI_METRICS_LISTEN names an address; then a small HTTP server in the
FastAGI event loop answers `GET /metrics` to the networks in CALLCARDS_AGI_METRICS_ALLOW
(loopback by default, like FastAGI's own allowlist) and closes every other connection.
docs/metrics.md "For the people who run it" lists the series.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

log = logging.getLogger(__name__)

#: Every callcards series lives here (not the client's global registry: tests make servers).
REGISTRY = CollectorRegistry(auto_describe=True)

CALLS_IN_PROGRESS = Gauge(
    "callcards_agi_calls_in_progress",
    "FastAGI sessions (calls in our dialplan steps) open now",
    registry=REGISTRY,
)
AGI_SESSIONS = Histogram(
    "callcards_agi_session_seconds",
    "How long FastAGI sessions lasted, by route",
    ["route"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800),
    registry=REGISTRY,
)
AGI_COMMAND = Histogram(
    "callcards_agi_command_seconds",
    "From an AGI command sent to Asterisk's reply",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1, 5, 30),
    registry=REGISTRY,
)
DB_STEP = Histogram(
    "callcards_agi_db_step_seconds",
    "A database step of a FastAGI route (run in the card threads)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3),
    registry=REGISTRY,
)
JOURNAL_DEPTH = Gauge(
    "callcards_agi_journal_operations",
    "Card changes waiting in the journal for the database",
    registry=REGISTRY,
)
AMI_CONNECTED = Gauge(
    "callcards_agi_floor_ami_connected",
    "1 while this instance writes the live floor and hears AMI",
    registry=REGISTRY,
)
EVENTS_TRACKED = Counter(
    "callcards_agi_floor_events",
    "AMI queue and member events read by the floor tracker, by event",
    ["event"],
    registry=REGISTRY,
)
FLOOR_WRITE = Histogram(
    "callcards_agi_floor_write_seconds",
    "One batch of floor changes written (intervals, live events, the picture)",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
    registry=REGISTRY,
)


def watch(active_sessions: Callable[[], int], journal: Path | None) -> None:
    """Read the gauges that are counts of something else at each scrape."""
    CALLS_IN_PROGRESS.set_function(lambda: float(active_sessions()))
    if journal is not None:
        JOURNAL_DEPTH.set_function(lambda: float(_lines(journal)))


def _lines(path: Path) -> int:
    try:
        with path.open("rb") as file:
            return sum(1 for _ in file)
    except OSError:
        return 0


class MetricsServer:
    """`GET /metrics` over HTTP/1.0 for the allowed networks; everything else is closed."""

    def __init__(self, host: str, port: int, allow: Sequence[str]) -> None:
        self.host, self.port = host, port
        self.allow = tuple(ipaddress.ip_network(cidr, strict=False) for cidr in allow)
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("metrics on http://%s:%s/metrics", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _allowed(self, host: str) -> bool:
        try:
            address = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in network for network in self.allow)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            if not self._allowed(str(peer[0]) if peer else ""):
                log.warning("metrics: refused %s (not in the allowed networks)", peer)
                return
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            line = request.split(b"\r\n", 1)[0].split()
            if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?")[0] == b"/metrics":
                body, status = generate_latest(REGISTRY), b"200 OK"
                kind = CONTENT_TYPE_LATEST.encode()
            else:
                body, status, kind = b"not found\n", b"404 Not Found", b"text/plain"
            writer.write(
                b"HTTP/1.0 "
                + status
                + b"\r\nContent-Type: "
                + kind
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            writer.close()
