"""The operator sessions report on a year of state intervals (`callcards bench sessions`).

A PostgreSQL database of its own gets a year of working days of N operators (two queues
logged in 08:00-20:00, a lunch, a call cycle of ring, talk, wrap-up and ready every 8
minutes, every 10th ring missed, a gap a week), generated in SQL; then the report
(reports/sessions.py) is timed over 31 days at the year's end and in its middle, an
operator's own day, and, as the baseline of the same run, one plain pass over every
interval of the year.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text, true

from bench.database import create_database, drop_database
from bench.report import update_document
from bench.stats import median
from callcards.demo import seed_demo
from models import Role, User, migrate
from models.live import OperatorState
from models.session import make_engine, make_session_factory, transaction
from reports.period import Period
from reports.sessions import overlapping, own_day, sessions_report

DATABASE = "callcards_bench_sessions"
ZONE = ZoneInfo("Europe/Moscow")
LAST_DAY = date(2026, 11, 30)  # a Monday: the year before it ends on a working day

#: Every working day of every operator, in SQL: the queues, a lunch, then the call cycle.
YEAR = """
WITH days AS (
  SELECT d::date AS day FROM generate_series(CAST(:first AS date), CAST(:last AS date),
    interval '1 day') AS d WHERE extract(isodow FROM d) < 6
), staff AS (
  SELECT id, extension FROM users WHERE login LIKE 'bench-op-%'
), shifts AS (
  SELECT staff.id AS user_id, 'PJSIP/' || staff.extension AS interface,
    timezone('Europe/Moscow', days.day + time '08:00') AS opens, days.day
  FROM staff CROSS JOIN days
)
INSERT INTO operator_states
  (user_id, interface, queue, state, reason, linkedid, started_at, ended_at, gap)
SELECT user_id, interface, q, 'logged_in', NULL, NULL, opens, opens + interval '12 hours', false
  FROM shifts CROSS JOIN (VALUES ('reception'), ('appointments')) AS queues(q)
UNION ALL
SELECT user_id, interface, NULL, 'paused', 'lunch', NULL,
  opens + interval '5 hours', opens + interval '5 hours 45 minutes', false
  FROM shifts
UNION ALL
SELECT user_id, interface, NULL, step.state, NULL,
  CASE WHEN step.state = 'ready' THEN NULL
       ELSE user_id || '.' || to_char(day, 'YYYYMMDD') || '.' || n END,
  opens + (n * 480 + step.from_sec) * interval '1 second'
    + CASE WHEN n >= 37 THEN interval '45 minutes' ELSE interval '0' END,
  opens + (n * 480 + step.to_sec) * interval '1 second'
    + CASE WHEN n >= 37 THEN interval '45 minutes' ELSE interval '0' END,
  (step.state = 'ready' AND n = 80 AND extract(isodow FROM day) = 3)
  FROM shifts CROSS JOIN generate_series(0, 83) AS n
  CROSS JOIN (VALUES ('ringing', 0, 12), ('talking', 12, 252), ('wrapup', 252, 312),
                     ('ready', 312, 480)) AS step(state, from_sec, to_sec)
  WHERE NOT (n % 10 = 9 AND step.state IN ('talking', 'wrapup'))
"""


def _medians(actions: Sequence[Callable[[], Any]], repeats: int) -> list[float]:
    """The median wall time of each action over `repeats` rounds, the actions taking turns
    within a round (so a burst of load on the shared machine falls on all of them)."""
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(repeats):
        for number, action in enumerate(actions):
            began = time.perf_counter()
            action()
            times[number].append(time.perf_counter() - began)
    return [median(each) for each in times]


def _period(first: date, days: int) -> Period:
    start = datetime.combine(first, datetime.min.time(), ZONE).astimezone(UTC)
    end = datetime.combine(first + timedelta(days=days), datetime.min.time(), ZONE)
    return Period(start, end.astimezone(UTC), ZONE)


def run_sessions_bench(
    operators: int,
    days: int,
    repeats: int,
    output: Path,
    command: Sequence[str],
    database: str = DATABASE,
) -> int:
    """Build the year, time the report, write the bench:sessions block of `output`."""
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    url = create_database(database)
    engine = make_engine(url)
    try:
        migrate.upgrade(url)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            seed_demo(session)
            for number in range(operators):
                user = User(
                    login=f"bench-op-{number}",
                    name=f"Оператор {number:03d}",
                    role=Role.OPERATOR.value,
                    extension=str(2000 + number),
                )
                user.set_password(user.login)
                session.add(user)
        first = LAST_DAY - timedelta(days=days - 1)
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text(YEAR), {"first": first, "last": LAST_DAY})
            connection.execute(text("ANALYZE operator_states"))
            rows = connection.scalar(text("SELECT count(*) FROM operator_states"))
        built = time.perf_counter() - began
        print(f"{rows:,} intervals in {built:.0f} s", flush=True)
        with sessions() as session:
            admin = session.scalar(select(User).where(User.login == "admin"))
            one = session.scalar(select(User.id).where(User.login == "bench-op-0"))
            assert admin is not None and one is not None
            now = datetime.combine(LAST_DAY, datetime.min.time(), ZONE).astimezone(UTC)
            now += timedelta(hours=16)
            end_month = _period(LAST_DAY - timedelta(days=30), 31)
            mid_month = _period(first + timedelta(days=days // 2), 31)
            last_day = _period(LAST_DAY, 1)
            scan, late, middle, mine = _medians(
                [
                    lambda: session.execute(
                        text(
                            "SELECT user_id, state, sum(extract(epoch FROM ended_at - started_at))"
                            " FROM operator_states GROUP BY user_id, state"
                        )
                    ).all(),
                    lambda: sessions_report(session, end_month, admin, now),
                    lambda: sessions_report(session, mid_month, admin, now),
                    lambda: own_day(session, one, last_day, now),
                ],
                repeats,
            )
            report = sessions_report(session, end_month, admin, now)
            overlap = select(OperatorState.id).where(overlapping(session, mid_month, now, true()))
            compiled = overlap.compile(session.connection())
            plan = "\n".join(
                line
                for (line,) in session.connection().exec_driver_sql(
                    "EXPLAIN " + str(compiled), compiled.params
                )
            )
        index = "ix_operator_states_started" in plan and "ix_operator_states_long" in plan
        rows_shown = len(report.operators)
        block = "\n".join(
            [
                f"`{' '.join(command)}`, {started}, load average {load}: {rows:,} intervals "
                f"({operators} operators, {days} days of which the working ones, built in "
                f"{built:.0f} s); median of {repeats} rounds (the four take turns in each).",
                "",
                "| | seconds | × one pass over the year |",
                "|---|---|---|",
                f"| one pass over every interval of the year (baseline) | {scan:.3f} | 1 |",
                f"| the report, 31 days at the year's end ({rows_shown} operator-days) "
                f"| {late:.3f} | {late / scan:.2f} |",
                f"| the report, 31 days in the year's middle | {middle:.3f} "
                f"| {middle / scan:.2f} |",
                f"| one operator's own day (the workspace's box) | {mine:.4f} "
                f"| {mine / scan:.4f} |",
                "",
                "The intervals overlapping a period are read through "
                + (
                    "`ix_operator_states_started` and `ix_operator_states_long`"
                    if index
                    else "**a plan without the indexes**"
                )
                + " (EXPLAIN of the report's filter, the middle month).",
            ]
        )
        update_document(output, {"sessions": block})
        print(block)
        return 0
    finally:
        engine.dispose()
        drop_database(database)
