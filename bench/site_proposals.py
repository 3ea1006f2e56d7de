"""Query shapes the site could use where indexes alone do not reach the targets, measured.

Each proposal is timed against the shape the site uses now, on the same history, in the
same run: a capped count for the calls list's total, the missed-calls part of the operator
report bounded by the events' own time, and the CSV export written by PostgreSQL itself
(COPY). Nothing here changes the site.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, distinct, func, literal, or_, select, text
from sqlalchemy.orm import Session

from bench.stats import median
from models import Call, CallEvent, Status, User
from models.session import make_engine, make_session_factory

ZONE = ZoneInfo("Europe/Moscow")
#: The calls list would say "more than 10,000" past this many cards.
COUNT_CAP = 10_000
#: Created for the bounded missed-calls query only, dropped afterwards.
RANG_INDEX = ("CREATE INDEX IF NOT EXISTS ix_bench_call_events_rang_at ON call_events (at) "
              "WHERE kind = 'operator_rang'")
COPY_SQL = """
COPY (
  SELECT c.id, c.uniqueid, c.linkedid, c.queue, c.direction, c.status, c.started_at,
    c.answered_at, c.ended_at, c.duration_sec, c.talk_sec, c.hold_sec, c.src_number,
    c.dst_number, c.did, c.operator_id, c.purpose_id, c.category_id, c.sub_category_id,
    c.recording_path, c.recording_url, c.resolved_first_call::int, c.needs_callback::int,
    CASE WHEN left(c.notes, 1) IN ('=', '@', '+', '-', E'\\t', E'\\r') THEN '''' || c.notes
         ELSE c.notes END,
    u.name, p.name, cat.name, sub.name, tags.names
  FROM calls c
  LEFT JOIN users u ON u.id = c.operator_id
  LEFT JOIN call_purpose p ON p.id = c.purpose_id
  LEFT JOIN call_category cat ON cat.id = c.category_id
  LEFT JOIN call_sub_category sub ON sub.id = c.sub_category_id
  LEFT JOIN (SELECT ct.call_id, string_agg(t.name, ', ' ORDER BY t.position) AS names
             FROM call_tags ct JOIN call_tag t ON t.id = ct.tag_id GROUP BY ct.call_id) tags
    ON tags.call_id = c.id
  ORDER BY c.started_at DESC NULLS LAST, c.id DESC
) TO STDOUT WITH (FORMAT csv, DELIMITER ';', HEADER)
"""


@dataclass
class Proposal:
    """One query as the site runs it now and in the proposed shape (medians)."""

    name: str
    now: float
    proposed: float
    shape: str
    unit: str = "ms"


def _timed(run: Callable[[], Any], repeats: int) -> float:
    run()  # warm-up
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return median(times)


def _counts(session: Session, stmt: Select[Any], repeats: int) -> tuple[float, float]:
    """The list's total as the site counts it now, and capped at COUNT_CAP + 1 rows."""
    everything = select(func.count()).select_from(stmt.order_by(None).subquery())
    capped = select(func.count()).select_from(
        stmt.with_only_columns(literal(1)).order_by(None).limit(COUNT_CAP + 1).subquery())
    return (_timed(lambda: session.scalar(everything), repeats),
            _timed(lambda: session.scalar(capped), repeats))


def _rang(start: datetime, end: datetime, bounded: bool) -> Select[int, str, int]:
    """The operator report's missed calls (figures.operator_figures), maybe bounded by time."""
    extension = CallEvent.data["extension"].as_string()
    stmt = (
        select(User.id, func.max(User.name), func.count(distinct(Call.id)))
        .select_from(CallEvent).join(Call, Call.id == CallEvent.call_id)
        .join(User, User.extension == extension)
        .where(CallEvent.kind == "operator_rang", Call.started_at >= start,
               Call.started_at < end, Call.status != Status.RINGING.value,
               or_(Call.operator_id.is_(None), Call.operator_id != User.id))
        .group_by(User.id)
    )
    # An event never comes before its call started: the bound drops nothing.
    return stmt.where(CallEvent.at >= start) if bounded else stmt


def _copy_rows_per_sec(url: str) -> tuple[float, int]:
    """Rows per second of the export written by PostgreSQL (COPY ... TO STDOUT), and rows."""
    import psycopg2

    class Sink(io.RawIOBase):
        lines = 0

        def writable(self) -> bool:
            return True

        def write(self, data: Any) -> int:
            self.lines += bytes(data).count(b"\n")
            return len(data)

    connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET timezone = 'Europe/Moscow'; SET DateStyle = 'ISO'")
            sink = Sink()
            started = time.perf_counter()
            cursor.copy_expert(COPY_SQL, sink)
            seconds = time.perf_counter() - started
    finally:
        connection.close()
    rows = max(sink.lines - 1, 0)
    return rows / seconds if seconds else 0.0, rows


def measure_proposals(url: str, export_rows_per_sec: float, repeats: int = 5) -> list[Proposal]:
    """Every proposal, timed now and proposed on the history at `url`."""
    from webadmin.calls.queries import CallFilters, filtered_calls

    engine = make_engine(url)
    proposals = []
    today = datetime.now(ZONE).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        with make_session_factory(engine)() as session:
            admin = session.scalar(select(User).where(User.login == "admin"))
            supervisor = session.scalar(select(User).where(User.login == "supervisor2"))
            for who, user in (("admin", admin), ("supervisor2", supervisor)):
                now_ms, capped_ms = _counts(session, filtered_calls(CallFilters(), user),
                                            repeats)
                proposals.append(Proposal(
                    f"calls list total, no filter ({who})", now_ms, capped_ms,
                    f"count at most {COUNT_CAP + 1:,} rows; show “more than {COUNT_CAP:,}”"))
            start, end = today - timedelta(days=29), today + timedelta(days=1)
            now_ms = _timed(lambda: session.execute(_rang(start, end, False)).all(), repeats)
            session.execute(text(RANG_INDEX))
            session.execute(text("ANALYZE call_events"))
            proposed_ms = _timed(lambda: session.execute(_rang(start, end, True)).all(),
                                 repeats)
            session.rollback()  # the index goes with the transaction
            proposals.append(Proposal(
                "operator report, missed calls, 30 days", now_ms, proposed_ms,
                "add `call_events.at >= period start` (drops nothing) and an index on "
                "call_events (at) WHERE kind = 'operator_rang'"))
    finally:
        engine.dispose()
    rate, rows = _copy_rows_per_sec(url)
    proposals.append(Proposal(
        f"CSV export of {rows:,} cards", export_rows_per_sec, rate,
        "COPY (SELECT …) TO STDOUT in CSV, tags joined once (string_agg), timestamps "
        "in ISO with the zone's offset, formula-looking notes quoted in SQL", "rows/s"))
    return proposals
