"""The queue report when calls move between queues: a year of a million cards (the site
bench's history) with a tenth of the inbound calls overflowed out of another queue and one
in twenty answered ones transferred; every day rolled up afresh, then the queue report timed
from the roll-ups and from the cards alone.

    python -m bench.queue_legs build   # the history, kept as callcards_bench_legs
    python -m bench.queue_legs time    # roll up and time, with the code on PYTHONPATH
    python -m bench.queue_legs drop
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import datetime, timedelta

from sqlalchemy import select, text, update

from bench.database import database_url, drop_database
from bench.site_history import ZONE, prepare_history, roll_up_history
from models import ReportDay, User
from models.session import make_engine, make_session_factory
from reports import figures
from reports.period import Period

DATABASE = "callcards_bench_legs"
OVERFLOWS = """
INSERT INTO call_events (call_id, at, kind, data)
SELECT id, queue_entered_at + interval '30 seconds', 'queue_overflow',
       jsonb_build_object('from_queue', CASE WHEN queue = 'reception' THEN 'appointments'
                                             ELSE 'reception' END,
                          'queue_status', 'TIMEOUT', 'condition', 'timeout', 'hop', '1',
                          'action', 'queue', 'to_queue', queue, 'message', '',
                          'reason', 'overflow_timeout')
FROM calls WHERE direction = 'inbound' AND queue_entered_at IS NOT NULL AND queue IS NOT NULL
  AND ended_at > queue_entered_at + interval '31 seconds' AND id % 10 = 3"""
TRANSFERS = """
INSERT INTO call_events (call_id, at, kind, data)
SELECT id, answered_at + interval '60 seconds', 'transferred',
       jsonb_build_object('from_queue', queue, 'to_queue', 'lab', 'reason', 'transfer')
FROM calls WHERE direction = 'inbound' AND answered_at IS NOT NULL AND queue IS NOT NULL
  AND ended_at > answered_at + interval '61 seconds' AND id % 20 = 7"""


def build() -> None:
    """The history with its moves between queues, analyzed."""
    url, built = prepare_history(1_000_000, DATABASE)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(OVERFLOWS))
        connection.execute(text(TRANSFERS))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    engine.dispose()
    print(f"built in {built:.0f} s")


def _period(days: int) -> Period:
    today = datetime.now(ZONE).date()
    first = today - timedelta(days=days - 1)
    return Period(
        datetime.combine(first, datetime.min.time(), ZONE),
        datetime.combine(today + timedelta(days=1), datetime.min.time(), ZONE),
        ZONE,
    )


def measure() -> None:
    """Roll every day up afresh, then the queue report's median of 7 runs after a warm-up."""
    url = database_url(DATABASE)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM report_days"))
    rolled = roll_up_history(url)
    sessions = make_session_factory(engine)
    # The report before the legs was queue_figures; with them, queue_report.
    report = getattr(figures, "queue_report", None) or getattr(figures, "queue_figures")  # noqa: B009

    def timed(days: int, cards_only: bool) -> str:
        ms = []
        for run in range(8):
            with sessions() as session:
                if cards_only:
                    session.execute(update(ReportDay).values(stale=True))
                admin = session.scalar(select(User).where(User.login == "admin"))
                start = time.perf_counter()
                report(session, _period(days), admin)
                if run:
                    ms.append((time.perf_counter() - start) * 1000)
                session.rollback()
        return f"{statistics.median(ms):.0f}"

    with open("/proc/loadavg") as load:
        average = load.read().split()[0]
    print(
        f"roll-up {rolled:.0f} s; queue report median ms: "
        + ", ".join(f"{days} d {timed(days, False)}" for days in (7, 30, 365))
        + f"; from the cards only: 7 d {timed(7, True)}, 30 d {timed(30, True)}"
        + f"; load {average}"
    )
    engine.dispose()


if __name__ == "__main__":
    {"build": build, "time": measure, "drop": lambda: drop_database(DATABASE)}[sys.argv[1]]()
