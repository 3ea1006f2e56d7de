"""`callcards bench live`: ordinary pages with 200 live streams open and 20 events/s, against
the same pages with none open; the site's memory per open stream.

The site runs as production runs it (gunicorn.conf.py, 2 gthread workers) on a database of
its own (callcards_bench_live, the demo data). A page is `/calls` (the calls list) and
`/reports/now`, asked by an admin's API token one after another; a stream is a raw socket
on /live/events that a reader thread drains. Events are AMI events, which every stream
carries, published from this process through live.bus as the floor listener would.
"""

from __future__ import annotations

import multiprocessing
import os
import selectors
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.database import create_database, drop_database
from bench.live_site import (
    Stream,
    get,
    gunicorn_site,
    open_stream,
    rss_kib,
    wait_answering,
    worker_pids,
)
from bench.processes import cpu_seconds
from bench.report import update_document
from bench.stats import median, percentile
from callcards.demo import seed_demo
from live.bus import EventKind, publish
from models import User, migrate
from models.session import make_engine, make_session_factory, transaction
from webadmin.auth.identity import issue_api_token

DATABASE = "callcards_bench_live"
PAGES = ("/calls", "/reports/now")
RATIO_TARGET = 1.5


@dataclass(frozen=True)
class LiveResult:
    streams: int
    events_per_sec: float
    requests: int
    p95_none_ms: float
    p95_open_ms: float
    median_none_ms: float
    median_open_ms: float
    events_sent: int
    events_seen: int
    rss_none_kib: int
    rss_open_kib: int
    refused: int
    #: The workers' CPU over a 5 s window with the streams open, events flowing and no
    #: page asked, as a share of one core: what the streams cost, whatever the machine's load.
    stream_cpu_pct: float = 0.0

    @property
    def ratio(self) -> float:
        return self.p95_open_ms / self.p95_none_ms if self.p95_none_ms else 0.0

    @property
    def kib_per_stream(self) -> float:
        return (self.rss_open_kib - self.rss_none_kib) / self.streams if self.streams else 0.0


def _pages(port: int, token: str, count: int) -> list[float]:
    """Milliseconds per page, `count` pages one after another (alternating PAGES)."""
    times = []
    for number in range(count):
        started = time.perf_counter()
        status = get(port, PAGES[number % len(PAGES)], token=token)
        times.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{PAGES[number % len(PAGES)]} answered {status}")
    return times


def _drain(streams: list[Stream], stop: Any) -> int:
    """Read every open stream so none blocks, until `stop`; the event ids seen."""
    selector = selectors.DefaultSelector()
    for stream in streams:
        stream.sock.setblocking(False)
        selector.register(stream.sock, selectors.EVENT_READ)
    seen = 0
    while not stop.is_set():
        for key, _ in selector.select(0.2):
            try:
                chunk = key.fileobj.recv(65536)  # type: ignore[union-attr]
            except OSError:
                continue
            seen += chunk.count(b"\nid: ") + chunk.startswith(b"id: ")
    return seen


def _viewers(port: int, token: str, streams: int, ready: Any, stop: Any, out: Any) -> None:
    """A process of its own: open the streams, drain them until `stop`; (seen, refused)."""
    opened: list[Stream] = []
    refused = 0
    while len(opened) < streams:
        stream = open_stream(port, token, after=0)
        if stream.status != 200:
            refused += 1
            stream.close()
            continue
        opened.append(stream)
    ready.set()
    seen = _drain(opened, stop)
    for stream in opened:
        stream.close()
    out.put((seen, refused))


def _publisher(url: str, rate: float, stop: Any, out: Any) -> None:
    """A process of its own: publish AMI events at `rate` a second until `stop`; how many."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    sent = 0
    due = time.monotonic()
    while not stop.is_set():
        with transaction(sessions) as session:
            publish(session, EventKind.AMI, {"connected": True})
        sent += 1
        due += 1.0 / rate
        stop.wait(max(0.0, due - time.monotonic()))
    engine.dispose()
    out.put(sent)


def measure(
    streams: int, events_per_sec: float, requests: int, workdir: Path, database: str = DATABASE
) -> LiveResult:
    """Time the pages without and with `streams` open; the workers' memory both ways.

    The streams are read and the events published by two processes of their own, so the
    process that times the pages does nothing else.
    """
    url = create_database(database)
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        seed_demo(session)
        admin = session.scalar(select(User).where(User.login == "admin"))
        assert admin is not None
        token = issue_api_token(admin)
    engine.dispose()
    site = gunicorn_site(url, workdir / "gunicorn.log", workdir / "metrics")
    site.start()
    context = multiprocessing.get_context("fork")
    ready, stop, out, sent_out = context.Event(), context.Event(), context.Queue(), context.Queue()
    children = []
    try:
        wait_answering(site.port)
        _pages(site.port, token, 20)  # warm both workers up
        none = _pages(site.port, token, requests)
        rss_none = sum(rss_kib(pid) for pid in worker_pids(site.pid))
        viewers = context.Process(
            target=_viewers, args=(site.port, token, streams, ready, stop, out)
        )
        viewers.start()
        children.append(viewers)
        ready.wait(120)
        publisher = context.Process(target=_publisher, args=(url, events_per_sec, stop, sent_out))
        publisher.start()
        children.append(publisher)
        time.sleep(2.0)  # the streams are in their steady state
        workers = worker_pids(site.pid)
        cpu_before, clock = sum(cpu_seconds(pid) for pid in workers), time.monotonic()
        time.sleep(5.0)
        cpu_used = sum(cpu_seconds(pid) for pid in workers) - cpu_before
        stream_cpu_pct = cpu_used * 100 / (time.monotonic() - clock)
        busy = _pages(site.port, token, requests)
        rss_open = sum(rss_kib(pid) for pid in worker_pids(site.pid))
        stop.set()
        sent = int(sent_out.get(timeout=30))
        seen, refused = out.get(timeout=30)
        return LiveResult(
            streams=streams,
            events_per_sec=events_per_sec,
            requests=requests,
            p95_none_ms=percentile(none, 0.95),
            p95_open_ms=percentile(busy, 0.95),
            median_none_ms=median(none),
            median_open_ms=median(busy),
            events_sent=sent,
            events_seen=int(seen),
            rss_none_kib=rss_none,
            rss_open_kib=rss_open,
            refused=int(refused),
            stream_cpu_pct=stream_cpu_pct,
        )
    finally:
        stop.set()
        for child in children:
            child.join(timeout=30)
        site.stop()
        drop_database(database)


def live_block(result: LiveResult, command: str, started: str, load: str) -> str:
    met = result.ratio <= RATIO_TARGET
    verdict = "**met**" if met else "**not met**"
    return "\n".join(
        [
            f"`{command}` · {started} · load before: {load}",
            "",
            f"| | none open | {result.streams} open, {result.events_per_sec:g} events/s |",
            "| --- | --- | --- |",
            f"| page p95 (ms) | {result.p95_none_ms:.1f} | {result.p95_open_ms:.1f} |",
            f"| page median (ms) | {result.median_none_ms:.1f} | {result.median_open_ms:.1f} |",
            f"| workers' memory (MiB) | {result.rss_none_kib / 1024:.1f} | "
            f"{result.rss_open_kib / 1024:.1f} |",
            "",
            f"- Page p95 with the streams open: {result.ratio:.2f}× the p95 with none "
            f"(target ≤ {RATIO_TARGET}×): {verdict}. Pages: {', '.join(PAGES)}, "
            f"{result.requests} each run, one after another.",
            f"- Memory per open stream: {result.kib_per_stream:.0f} KiB "
            "(the two workers' resident memory, with the streams open less without, "
            "per stream).",
            f"- The workers' CPU with the streams open and events flowing, no page asked: "
            f"{result.stream_cpu_pct:.1f} % of one core (a figure the machine's load does "
            "not change much, unlike the p95 ratio: read it with the load above).",
            f"- Events published: {result.events_sent}; event ids the streams received: "
            f"{result.events_seen} (every stream carries every AMI event); streams refused "
            f"while opening: {result.refused}.",
        ]
    )


def run_live_bench(streams: int, requests: int, output: Path, command: list[str]) -> int:
    """Measure and write the bench:live block of docs/benchmarks.md."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory() as folder:
        result = measure(streams, 20.0, requests, Path(folder))
    update_document(output, {"live": live_block(result, " ".join(command), started, load)})
    print(live_block(result, " ".join(command), started, load))
    return 0
