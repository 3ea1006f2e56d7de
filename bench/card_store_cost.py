"""What one call's card changes cost the FastAGI server: CPU, statements, commits per call.

The four steps a lifecycle makes (open_card, route_decided, answered, hang_up) are run in
one thread, without the event loop, through:

- `card store`: the server's own JournaledCards over CardStore (SQLAlchemy Core), on an
  engine built as fastagi.app builds it;
- `plain SQL`: the same rows written with psycopg2, a few statements per step: the floor
  for any card store in Python.

So the report can say how far the card store is from the floor. Run as
`python -m bench.card_store_cost [calls]`.
"""

from __future__ import annotations

import functools
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event, select

from bench.database import drop_database, prepare_call_database
from bench.processes import PostgresCpuMeter
from dialplan.flow import CallFlow, Decision
from dialplan.settings import FlowSettings
from dialplan.timeline import TimelineKind
from fastagi.app import card_engine
from fastagi.cards import CardStore, Event, HangupReport, NewCall
from fastagi.changes import Answered, HungUp, OpenCard, RouteDecided
from fastagi.journal import Journal, JournaledCards
from fastagi.routes.common import Timeline
from models import Direction, FlowVersion
from models.session import make_engine, make_session_factory
from recordings import RecordingStore

DATABASE = "callcards_bench_cards"
STORE, PLAIN = "card store", "plain SQL"


@dataclass
class Cost:
    """Per call: CPU ms of this process and of PostgreSQL, statements sent, wall ms."""

    variant: str
    calls: int
    cpu_ms: float
    statements: float
    wall_ms: float
    postgres_cpu_ms: float = 0.0


def _route_events(settings: FlowSettings, at: datetime) -> tuple[list[Event], Decision]:
    flow = CallFlow(settings, "74951234567", "+79161234567", at)
    timeline = Timeline(flow)
    step = flow.start()
    timeline.stamp(at)
    while not isinstance(step, Decision):
        step = flow.keys("1")
        timeline.stamp(at)
    return [
        *timeline.events(),
        Event(
            TimelineKind.ROUTE,
            at,
            {"action": "queue", "queue": step.queue or "", "reason": step.reason},
        ),
    ], step


def _lifecycle(cards: Any, settings: FlowSettings, number: int, base: str) -> None:
    """The four card steps of one answered call, as the routes make them."""
    now = datetime.now(UTC)
    linkedid = f"{base}.{number}"
    new = NewCall(
        uniqueid=linkedid,
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=now,
        src_number=f"+7916{number % 20000:07d}",
        dst_number="74951234567",
        did="74951234567",
        caller_name="Иванов Иван",
    )
    cards.apply(
        OpenCard(new, [Event(TimelineKind.CALL_STARTED, now, {"did": "74951234567"}, linkedid)])
    )
    events, decision = _route_events(settings, now)
    cards.apply(
        RouteDecided(
            linkedid,
            queue=decision.queue,
            ivr_path="main > 1",
            did_source="Яндекс.Директ",
            did_city="Москва",
            events=events,
            end_reason=None,
            queue_entered_at=now,
            recorded=True,
        )
    )
    cards.apply(Answered(linkedid, extension="101", interface="PJSIP/101", at=now))
    cards.apply(
        HungUp(
            HangupReport(
                call=new,
                ended_at=now + timedelta(seconds=95),
                queue_entered=True,
                hangup_source="PJSIP/trunk-1",
                cause="16",
                member="PJSIP/101",
                queue=decision.queue,
            )
        )
    )


def _counting(engine: Engine) -> list[int]:
    count = [0]

    @event.listens_for(engine, "before_cursor_execute")
    def _count(*_args: Any) -> None:
        count[0] += 1

    return count


def _measure(
    variant: str, run: Callable[[int], None], calls: int, count: list[int], database: str
) -> Cost:
    for number in range(20):  # warm caches, pools, compiled statements
        run(-1 - number)
    count[0] = 0
    cpu, wall = time.process_time(), time.perf_counter()
    with PostgresCpuMeter(database, every=1.0) as postgres:  # few samples: this process
        for number in range(calls):
            run(number)
    return Cost(
        variant,
        calls,
        (time.process_time() - cpu) * 1000 / calls,
        count[0] / calls,
        (time.perf_counter() - wall) * 1000 / calls,
        postgres.seconds * 1000 / calls,
    )


def _store_variant(
    url: str, settings: FlowSettings, journal: Path, base: str
) -> tuple[Callable[[int], None], list[int], Engine]:
    engine = card_engine(url)
    store = CardStore(make_session_factory(engine), RecordingStore(journal.parent))
    cards = JournaledCards(store, Journal(journal))
    return (lambda number: _lifecycle(cards, settings, number, base)), _counting(engine), engine


@dataclass
class _PlainStore:
    """The card rows written with psycopg2 directly (the floor for an ORM-free store)."""

    connection: Any
    count: list[int]

    def _run(self, statements: Iterator[tuple[str, tuple[Any, ...]]]) -> list[Any]:
        rows = []
        with self.connection.cursor() as cursor:
            for sql, params in statements:
                self.count[0] += 1
                cursor.execute(sql, params)
                rows.append(cursor.fetchone() if cursor.description else None)
        self.connection.commit()
        self.count[0] += 1
        return rows

    def lifecycle(self, settings: FlowSettings, number: int, base: str) -> None:
        """The four card steps of one answered call, a few statements and a commit each."""
        now = datetime.now(UTC)
        linkedid = f"{base}.{number}"
        events, decision = _route_events(settings, now)
        insert_event = (
            "INSERT INTO call_events (call_id, at, kind, channel_uniqueid, data) "
            "SELECT id, %s, %s, NULL, %s::jsonb FROM calls WHERE linkedid = %s"
        )
        card_id = self._run(
            iter(
                [
                    (
                        "INSERT INTO calls (uniqueid, linkedid, direction, status, started_at, "
                        "src_number, "
                        "dst_number, did, caller_name, recording_path, recording_state, "
                        "resolved_first_call,"
                        " needs_callback, updated_at) VALUES (%s, %s, 'inbound', 'ringing', %s, "
                        "%s, %s, %s,"
                        " %s, %s, 'pending', false, false, %s) RETURNING id",
                        (
                            linkedid,
                            linkedid,
                            now,
                            f"+7916{number % 20000:07d}",
                            "74951234567",
                            "74951234567",
                            "Иванов Иван",
                            f"x/{linkedid}.wav",
                            now,
                        ),
                    ),
                    (insert_event, (now, "call_started", '{"did": "74951234567"}', linkedid)),
                ]
            )
        )[0][0]
        self._run(
            iter(
                [
                    (
                        "UPDATE calls SET queue = %s, ivr_path = %s, did_source = %s, did_city = "
                        "%s, "
                        "queue_entered_at = %s, updated_at = %s WHERE id = %s",
                        (decision.queue, "main > 1", "Яндекс.Директ", "Москва", now, now, card_id),
                    ),
                    *(
                        (
                            insert_event,
                            (
                                event.at,
                                event.kind,
                                json.dumps({key: str(value) for key, value in event.data.items()}),
                                linkedid,
                            ),
                        )
                        for event in events
                    ),
                ]
            )
        )
        self._run(
            iter(
                [
                    (
                        "UPDATE calls SET status = 'answered', answered_at = %s, wait_sec = 0, "
                        "operator_id = (SELECT id FROM users WHERE extension = '101'), "
                        "ringing_extension = '101', updated_at = %s WHERE id = %s",
                        (now, now, card_id),
                    ),
                    (insert_event, (now, "answered", '{"extension": "101"}', linkedid)),
                ]
            )
        )
        self._run(
            iter(
                [
                    (
                        "SELECT status, answered_at, queue_entered_at FROM calls WHERE id = %s "
                        "FOR UPDATE",
                        (card_id,),
                    ),
                    (
                        "UPDATE calls SET ended_at = %s, duration_sec = 95, talk_sec = 95, "
                        "hold_sec = 0, "
                        "end_reason = 'caller_hangup', updated_at = %s WHERE id = %s",
                        (now, now, card_id),
                    ),
                    (insert_event, (now, "hangup", '{"cause": "16"}', linkedid)),
                ]
            )
        )


def _plain_call(plain: _PlainStore, settings: FlowSettings, base: str, number: int) -> None:
    plain.lifecycle(settings, number, base)


def measure_card_store(calls: int = 300, database: str = DATABASE, rounds: int = 3) -> list[Cost]:
    """CPU and statements per call lifecycle of each variant, on a fresh database."""
    # The variants take turns for `rounds` rounds and each keeps its least disturbed one
    # (least CPU here): on a shared machine a neighbour slows whatever runs beside it.
    import psycopg2

    url = prepare_call_database(database)
    best: dict[str, Cost] = {}
    work = Path(tempfile.mkdtemp(prefix="callcards-bench-cards-"))
    try:
        engine = make_engine(url)
        with engine.connect() as connection:
            document = connection.scalar(
                select(FlowVersion.document).order_by(FlowVersion.id.desc()).limit(1)
            )
        engine.dispose()
        settings = FlowSettings.from_document(document or {})
        for round_number in range(rounds):
            base = f"cost{int(time.time())}r{round_number}"
            run, count, engine = _store_variant(
                url, settings, work / "cards.journal", f"{base}store"
            )
            costs = [_measure(STORE, run, calls, count, database)]
            engine.dispose()
            connection = psycopg2.connect(url.replace("postgresql+psycopg2", "postgresql"))
            plain = _PlainStore(connection, [0])
            run_plain = functools.partial(_plain_call, plain, settings, f"{base}plain")
            costs.append(_measure(PLAIN, run_plain, calls, plain.count, database))
            connection.close()
            for cost in costs:
                if cost.variant not in best or cost.cpu_ms < best[cost.variant].cpu_ms:
                    best[cost.variant] = cost
    finally:
        drop_database(database)
        shutil.rmtree(work, ignore_errors=True)
    return list(best.values())


def main(argv: list[str] | None = None) -> int:
    """Print each variant's cost per call lifecycle."""
    args = sys.argv[1:] if argv is None else argv
    for cost in measure_card_store(int(args[0]) if args else 300):
        print(
            f"{cost.variant:>18}: {cost.cpu_ms:6.2f} ms CPU here, {cost.postgres_cpu_ms:6.2f} ms"
            f" in PostgreSQL, {cost.statements:5.1f} statements, {cost.wall_ms:6.2f} ms wall"
            " per call"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
