"""Benchmark 3: the staff site on a year of history (1,000,000 cards by default).

The site runs in-process through Flask's test client, signed in as the demo staff, so every
figure is a whole request (routing, permission check, queries, template) without a network.
Each calls-list filter and each report is requested several times after one warm-up; the
CSV export of every card runs in a process of its own, so its peak memory is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench.database import create_database, database_url, drop_database
from bench.floor import FloorResult, run_floor
from bench.history import add_staff, generate_calls
from bench.processes import bench_environment, python_module
from bench.stats import median, percentile
from callcards.demo import seed_demo
from models import migrate
from models.session import make_engine, make_session_factory, transaction

DATABASE = "callcards_bench_site"
#: The indexes migrations 0004 and 0007 add (models/calls.py); the baseline runs without
#: them, and without the daily roll-ups.
ADDED_INDEXES = {
    "calls": (
        "ix_calls_started_id_desc",
        "ix_calls_src_number_trgm",
        "ix_calls_dst_number_trgm",
        "ix_calls_incomplete",
        "ix_calls_needs_callback",
    ),
    "call_events": ("ix_call_events_rang_at",),
}
ZONE = ZoneInfo("Europe/Moscow")
#: The password of every generated member of staff (the demo staff keep theirs).
_PASSWORD = "bench-password"  # noqa: S105 (generated bench staff only)


@dataclass
class Timing:
    """Several timings (ms) of one request."""

    name: str
    group: str
    url: str
    ms: list[float] = field(default_factory=list)
    period: str = ""  # reports: "7 days", "30 days", "a year"

    @property
    def p50(self) -> float:
        """Median, ms."""
        return median(self.ms)

    @property
    def p95(self) -> float:
        """95th percentile, ms."""
        return percentile(self.ms, 0.95)


@dataclass
class ExportResult:
    """The CSV export of every card, measured in a process of its own."""

    rows: int
    seconds: float
    bytes: int
    rss_before_mb: float
    peak_rss_mb: float

    @property
    def rows_per_sec(self) -> float:
        """Rows written per second."""
        return self.rows / self.seconds if self.seconds else 0.0


@dataclass
class SiteResult:
    """Every timing of the site benchmark."""

    cards: int
    events: int
    generated_sec: float
    rolled_up_sec: float = 0.0
    timings: list[Timing] = field(default_factory=list)
    #: The same requests without the indexes of migrations 0004 and 0007 and the roll-ups.
    baseline: list[Timing] = field(default_factory=list)
    export: ExportResult | None = None
    indexes: list[str] = field(default_factory=list)
    #: The floor's load on the production command (bench/floor.py), if run.
    floor: FloorResult | None = None

    def baseline_of(self, timing: Timing) -> Timing | None:
        """The baseline timing of the same request, if measured."""
        return next((other for other in self.baseline if other.name == timing.name), None)

    def group(self, name: str) -> list[Timing]:
        """The timings of one group ("list", "report", ...)."""
        return [timing for timing in self.timings if timing.group == name]

    def p95_of(self, group: str) -> float:
        """The 95th percentile over every request of a group, ms."""
        return percentile([ms for timing in self.group(group) for ms in timing.ms], 0.95)


def prepare_history(
    cards: int, database: str = DATABASE, log: Callable[[str], None] = print
) -> tuple[str, float]:
    """A fresh database with staff and `cards` cards of history; its URL and build seconds."""
    from werkzeug.security import generate_password_hash

    started = time.perf_counter()
    url = create_database(database)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session)
            add_staff(session, generate_password_hash(_PASSWORD, method="scrypt"))
        with engine.begin() as connection:
            count = generate_calls(connection, cards)
        log(f"  {count} cards generated in {time.perf_counter() - started:.0f} s; vacuum analyze")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # As autovacuum would have by the time a table is a year old; and the dirty
            # pages written now, not by a checkpoint in the middle of the timings.
            connection.execute(text("VACUUM ANALYZE"))
            connection.execute(text("CHECKPOINT"))
    finally:
        engine.dispose()
    return url, time.perf_counter() - started


def roll_up_history(url: str, log: Callable[[str], None] = print) -> float:
    """Roll up every past day, as the nightly `callcards reports rollup` would; seconds."""
    from reports.rollup import roll_up

    started = time.perf_counter()
    engine = make_engine(url)
    try:
        days = roll_up(make_session_factory(engine), ZONE, datetime.now(ZONE).date())
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    log(f"  {days} days rolled up in {seconds:.0f} s")
    return seconds


def _app(url: str) -> Any:
    from callcards.config import Settings
    from webadmin import create_app

    settings = Settings(
        database_url=url,
        recordings_dir=Path("/nonexistent-recordings"),
        secret_key="bench-only-secret",  # noqa: S106 (in-process only)
    )
    return create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})


@contextmanager
def signed_in(app: Any, login: str, password: str | None = None) -> Iterator[Any]:
    """A test client signed in as `login` (demo passwords equal the login)."""
    client = app.test_client()
    response = client.post("/login", data={"login": login, "password": password or login})
    if response.status_code not in (200, 302):
        raise RuntimeError(f"cannot sign in as {login}: {response.status_code}")
    yield client


def _time(client: Any, timing: Timing, repeats: int) -> Timing:
    """Request timing.url once to warm up, then `repeats` times; keep the times."""
    for attempt in range(repeats + 1):
        started = time.perf_counter()
        response = client.get(timing.url)
        body = response.get_data()
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{timing.url}: HTTP {response.status_code}: {body[:300]!r}")
        if attempt:
            timing.ms.append(elapsed)
    return timing


def list_requests(today: datetime, operator_id: int) -> list[tuple[str, str, str]]:
    """(who, what, URL) of the calls-list requests a working day is made of."""
    week = (today - timedelta(days=6)).date().isoformat()
    month = today.replace(day=1).date().isoformat()
    days30 = (today - timedelta(days=29)).date().isoformat()
    return [
        ("admin", "newest first, no filter", "/calls"),
        ("admin", "last 7 days", f"/calls?from={week}"),
        ("admin", "this month, missed", f"/calls?from={month}&status=missed"),
        ("admin", "one operator, 30 days", f"/calls?from={days30}&operator={operator_id}"),
        ("admin", "one queue, 7 days", f"/calls?from={week}&queue=appointments"),
        ("admin", "phone number, last 7 digits", "/calls?q=0123456"),
        ("admin", "cards left incomplete", "/calls?incomplete=1"),
        ("admin", "needs a callback, 30 days", f"/calls?from={days30}&needs_callback=1"),
        ("admin", "one tag", "/calls?tag=1"),
        ("admin", "page 20", "/calls?page=20"),
        ("admin", "longest calls first, 7 days", f"/calls?from={week}&sort=-duration"),
        ("supervisor2", "supervisor's queues, no filter", "/calls"),
        ("supervisor2", "supervisor: missed calls", "/calls?status=missed"),
        ("supervisor2", "supervisor: last 7 days", f"/calls?from={week}"),
        ("operator1", "operator's own calls", "/calls"),
        ("operator1", "operator: missed calls", "/calls?status=missed"),
        ("operator1", "operator: last 7 days", f"/calls?from={week}"),
        ("operator1", "operator: callbacks", "/calls?needs_callback=1"),
        ("operator1", "operator: my calls", "/calls/mine"),
        ("admin", "API: 7 days, 100 per page", f"/api/calls?from={week}&limit=100"),
    ]


def report_requests(today: datetime) -> list[tuple[str, str, str, str]]:
    """(who, what, URL, period) of each report over a week, a month and a year."""
    requests = []
    for days, label in ((7, "7 days"), (30, "30 days"), (365, "a year")):
        start = (today - timedelta(days=days - 1)).date().isoformat()
        end = today.date().isoformat()
        for report in ("queues", "operators", "categories"):
            requests.append(
                ("admin", f"{report}, {label}", f"/reports/{report}?from={start}&to={end}", label)
            )
    start = (today - timedelta(days=29)).date().isoformat()
    requests.append(
        ("supervisor2", "queues, 30 days, supervisor", f"/reports/queues?from={start}", "30 days")
    )
    return requests


def measure_site(url: str, repeats: int = 7, log: Callable[[str], None] = print) -> list[Timing]:
    """Time every calls-list and report request."""
    app = _app(url)
    today = datetime.now(ZONE)
    with app.app_context():
        from models import User
        from webadmin.extensions import db

        operator = db.session.scalar(db.select(User).where(User.extension == "101"))
        operator_id = operator.id if operator else 1
    timings: list[Timing] = []
    plan = [("list", *request, "") for request in list_requests(today, operator_id)] + [
        ("report", *request) for request in report_requests(today)
    ]
    for group, who, name, path, period in plan:
        password = _PASSWORD if who == "supervisor2" else None
        with signed_in(app, who, password) as client:
            timing = _time(client, Timing(f"{name} ({who})", group, path, period=period), repeats)
        timings.append(timing)
        log(f"  {group:>6} {timing.name:<45} p50 {timing.p50:7.1f} ms  p95 {timing.p95:7.1f} ms")
    return timings


def _memory_mb(field: str) -> float:
    """VmRSS or VmHWM of this process from /proc (Linux), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise LookupError(field)


def export_in_process(url: str, query: str = "") -> dict[str, Any]:
    """Export every card through /api/export/calls.csv here; rows, seconds, bytes, memory."""
    app = _app(url)
    with signed_in(app, "admin") as client:
        rss_before = _memory_mb("VmRSS")
        # Restart the high-water mark here: ru_maxrss would also count the sign-in's scrypt
        # and, on Linux, the parent's memory this process was forked from.
        Path("/proc/self/clear_refs").write_text("5")
        started = time.perf_counter()
        response = client.get(f"/api/export/calls.csv{query}", buffered=False)
        lines = size = 0
        for chunk in response.response:
            data = chunk.encode() if isinstance(chunk, str) else chunk
            size += len(data)
            lines += data.count(b"\r\n")
        seconds = time.perf_counter() - started
        response.close()
        peak = _memory_mb("VmHWM")
    return {
        "rows": max(lines - 1, 0),
        "seconds": seconds,
        "bytes": size,
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
    }


def measure_export(url: str) -> ExportResult:
    """Run export_in_process in a fresh process, so its memory is measured alone."""
    done = subprocess.run(
        python_module("bench.site_history", "export", url),
        env=bench_environment(),
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the export run failed:\n{done.stderr[-2000:]}")
    return ExportResult(**json.loads(done.stdout.strip().splitlines()[-1]))


@contextmanager
def as_before(url: str) -> Iterator[None]:
    """The site's tables as they were before migrations 0004 and 0007 for a while: without their
    indexes, every roll-up set aside (stale); then all of it back."""
    from models import Base

    engine = make_engine(url)
    added = [
        index
        for name, names in ADDED_INDEXES.items()
        for index in Base.metadata.tables[name].indexes
        if index.name in names
    ]
    try:
        with engine.begin() as connection:
            for index in added:
                index.drop(connection, checkfirst=True)
            fresh = list(connection.scalars(text("SELECT day FROM report_days WHERE NOT stale")))
            connection.execute(text("UPDATE report_days SET stale = true"))
            connection.execute(text("ANALYZE calls; ANALYZE call_events"))
        yield
    finally:
        with engine.begin() as connection:
            for index in added:
                index.create(connection, checkfirst=True)
            # No card changed meanwhile: the days set aside are as fresh as they were.
            connection.execute(
                text("UPDATE report_days SET stale = false WHERE day = ANY(:days)"), {"days": fresh}
            )
            connection.execute(text("ANALYZE calls; ANALYZE call_events"))
        engine.dispose()


def call_indexes(url: str) -> list[str]:
    """The indexes on calls, call_events and call_tags, as PostgreSQL describes them."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [
                row[0]
                for row in connection.execute(
                    text(
                        "SELECT indexdef FROM pg_indexes WHERE tablename IN "
                        "('calls', 'call_events', 'call_tags') ORDER BY tablename, indexname"
                    )
                )
            ]
    finally:
        engine.dispose()


def run_site_bench(
    cards: int = 1_000_000,
    *,
    repeats: int = 7,
    keep: bool = False,
    reuse: bool = False,
    baseline: bool = True,
    database: str = DATABASE,
    floor: tuple[int, ...] = (),
    floor_sec: float = 30.0,
    floor_before: int | None = None,
    log: Callable[[str], None] = print,
) -> SiteResult:
    """Build (or reuse) the history and roll it up, time the site with and without the
    indexes and roll-ups of 0004 and 0007, export; then the floor's load at each number of
    operators in `floor` (the first is the baseline), `floor_sec` seconds each, and
    `floor_before` operators without the open-card indexes of 0010."""
    if reuse:
        url, built = database_url(database), 0.0
    else:
        url, built = prepare_history(cards, database, log)
    rolled_up = roll_up_history(url, log)  # on a reused history: the days since
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            count = int(connection.scalar(text("SELECT count(*) FROM calls")) or 0)
            events = int(connection.scalar(text("SELECT count(*) FROM call_events")) or 0)
        engine.dispose()
        result = SiteResult(
            count, events, round(built, 1), round(rolled_up, 1), indexes=call_indexes(url)
        )
        result.timings = measure_site(url, repeats, log)
        if baseline:
            log("  the same without the indexes of migrations 0004 and 0007 and the roll-ups:")
            with as_before(url):
                result.baseline = measure_site(url, repeats, log)
        result.export = measure_export(url)
        log(
            f"  export: {result.export.rows} rows in {result.export.seconds:.1f} s "
            f"({result.export.rows_per_sec:,.0f} rows/s), peak RSS "
            f"{result.export.peak_rss_mb:.0f} MB"
        )
        if floor:
            from werkzeug.security import generate_password_hash

            log(f"  the floor's load on gunicorn -w 4: {', '.join(map(str, floor))} operators")
            result.floor = run_floor(
                url,
                floor,
                seconds=floor_sec,
                password=_PASSWORD,
                password_hash=generate_password_hash(_PASSWORD, method="scrypt"),
                before=floor_before,
                log=log,
            )
    finally:
        if not keep:
            drop_database(database)
    return result


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.site_history export URL`: one export run, JSON on stdout."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "export":
        print("usage: python -m bench.site_history export DATABASE_URL", file=sys.stderr)
        return 2
    print(json.dumps(export_in_process(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
