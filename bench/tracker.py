"""`callcards bench tracker`: how many AMI events a second the live floor's writer keeps up with.

A synthetic busy hour: OPERATORS operators in three queues, each call raising what
Asterisk 22 raises for an answered queue call with a hold (join, ring, leave, connect,
member status, hold, unhold, complete) and now and then a missed ring or a break. The same
stream is played four ways in one run: read only (each event copied, as the listener's
callback does), through the tracker (live/tracker.py: the baseline the others are compared
with), and through tracker and store (live/store.py) on PostgreSQL, one transaction per
event and per batch of BATCH events.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import update_document
from live.listener import SNAPSHOT_SEC
from live.store import FloorStore
from live.tracker import Change, Directory, Operator, QueueRules, Tracker
from models import User
from models.session import make_engine, make_session_factory

OPERATORS = 100
QUEUES = ("sales", "support", "billing")
BATCH = 20
T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Figure:
    """One way of playing the stream."""

    name: str
    events: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def stream(calls: int) -> list[dict[str, Any]]:
    """The AMI events of `calls` queue calls spread over the operators."""
    events: list[dict[str, Any]] = []
    for n in range(calls):
        queue = QUEUES[n % len(QUEUES)]
        where = f"PJSIP/{1000 + n % OPERATORS}"
        caller = {"Linkedid": f"bench.{n}", "Uniqueid": f"bench.{n}", "CallerIDNum": "79990001122"}
        member = {"Queue": queue, "Interface": where, "MemberName": where, **caller}
        if n % 17 == 5:  # a missed ring first
            events += [{"Event": "AgentCalled", **member}, {"Event": "AgentRingNoAnswer", **member}]
        events += [
            {"Event": "QueueCallerJoin", "Queue": queue, "Position": "1", **caller},
            {"Event": "AgentCalled", **member},
            {"Event": "QueueCallerLeave", "Queue": queue, **caller},
            {"Event": "AgentConnect", **member},
            {"Event": "QueueMemberStatus", **member, "Status": "2", "InCall": "1", "Paused": "0"},
            {"Event": "Hold", "Channel": f"{where}-1", "Linkedid": caller["Linkedid"]},
            {"Event": "Unhold", "Channel": f"{where}-1", "Linkedid": caller["Linkedid"]},
            {"Event": "AgentComplete", **member},
            {"Event": "QueueMemberStatus", **member, "Status": "1", "InCall": "0", "Paused": "0"},
        ]
        if n % 29 == 3:  # a break, and back
            pause = {"Queue": queue, "Interface": where}
            events += [
                {"Event": "QueueMemberPause", **pause, "Paused": "1", "PausedReason": "lunch"},
                {"Event": "QueueMemberPause", **pause, "Paused": "0"},
            ]
    return events


def members() -> list[dict[str, str]]:
    """QueueStatus's answer: every operator in every queue, ready."""
    found = [{"Event": "QueueParams", "Queue": q} for q in QUEUES]
    for n in range(OPERATORS):
        for queue in QUEUES:
            found.append(
                {
                    "Event": "QueueMember",
                    "Queue": queue,
                    "Location": f"PJSIP/{1000 + n}",
                    "Paused": "0",
                    "Status": "1",
                    "InCall": "0",
                }
            )
    return found


def directory(user_ids: Sequence[int]) -> Directory:
    operators = [Operator(uid, f"Operator {n}", str(1000 + n)) for n, uid in enumerate(user_ids)]
    return Directory.build("PJSIP/{extension}", operators, {q: QueueRules() for q in QUEUES})


def played(name: str, events: list[dict[str, Any]], run: Any) -> Figure:
    started = time.perf_counter()
    run(events)
    return Figure(name, len(events), time.perf_counter() - started)


def run_tracker_bench(calls: int, output: Path, command: Sequence[str]) -> int:
    """Measure; write the bench:tracker block of docs/benchmarks.md."""
    from bench.database import create_database, drop_database
    from models import migrate

    events = stream(calls)
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    figures = [played("read only", events, lambda es: [dict(e) for e in es])]

    def tracked(es: list[dict[str, Any]]) -> None:
        tracker = Tracker(directory(list(range(1, OPERATORS + 1))))
        tracker.resync(members(), T0)
        for n, event in enumerate(es):
            tracker.handle(dict(event), T0 + timedelta(milliseconds=n))

    figures.append(played("tracker", events, tracked))
    name = f"callcards_bench_tracker_{os.getpid()}"
    url = create_database(name)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            users = [
                User(
                    login=f"bench{n}",
                    name=f"Operator {n}",
                    password_hash="!",  # noqa: S106  # nobody signs in as these
                    extension=str(1000 + n),
                )
                for n in range(OPERATORS)
            ]
            session.add_all(users)
        user_ids = [user.id for user in users]
        store = FloorStore(sessions)
        for batch in (1, BATCH):
            tracker = Tracker(directory(user_ids))
            store.apply(tracker.resync(members(), T0), tracker.floor)

            def stored(
                es: list[dict[str, Any]], tracker: Tracker = tracker, size: int = batch
            ) -> None:
                pending: list[Change] = []
                pictured = time.perf_counter()
                for n, event in enumerate(es, 1):
                    pending += tracker.handle(dict(event), T0 + timedelta(milliseconds=n))
                    if n % size == 0:  # the picture at most once a second, as the listener
                        snapshot = time.perf_counter() - pictured >= SNAPSHOT_SEC
                        store.apply(pending, tracker.floor, snapshot=snapshot)
                        pictured = time.perf_counter() if snapshot else pictured
                        pending = []
                store.apply(pending, tracker.floor)

            label = "one event a transaction" if batch == 1 else f"batches of {batch} events"
            figures.append(played(f"tracker + store on PostgreSQL, {label}", events, stored))
        engine.dispose()
    finally:
        drop_database(name)
    update_document(output, {"tracker": block(figures, calls, " ".join(command), started, load)})
    for figure in figures:
        print(f"{figure.name}: {figure.per_second:,.0f} events/s")
    return 0


def block(figures: list[Figure], calls: int, command: str, started: str, load: str) -> str:
    """The table, each way against the tracker alone (the baseline) in the same run."""
    base = next(f for f in figures if f.name == "tracker").per_second
    per_call = figures[0].events / max(1, calls)
    lines = [
        f"`{command}` ({started}, load average {load}): {figures[0].events:,} AMI events "
        f"({per_call:.1f} a call) of {OPERATORS} operators in {len(QUEUES)} queues.",
        "",
        "| played | events/s | × the tracker alone |",
        "|---|---|---|",
    ]
    for figure in figures:
        share = figure.per_second / base if base else 0.0
        lines.append(f"| {figure.name} | {figure.per_second:,.0f} | {share:.3g} |")
    return "\n".join(lines)
