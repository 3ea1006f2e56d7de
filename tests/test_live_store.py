"""The tracker's changes in PostgreSQL (live/store.py), and one writer among several listeners.

A call played through the tracker lands as the rows a report reads: state intervals that
meet end to start, memberships, the live events in order, the floor row as of the last one.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import load_settings
from callcards.demo import seed_demo
from live.bus import EventKind
from live.floor import Floor
from live.listener import FloorListener
from live.store import KEEP_EVENTS, FloorStore, NotWriter
from live.tracker import Tracker
from models import Call, LiveEvent, LiveFloor, LiveWrapup, OperatorState, Queue, User, migrate
from models.session import make_engine, make_session_factory, transaction
from tests.conftest import demo_database, drop_database
from tests.test_live_tracker import a_call, queue_member, status

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANNA = "PJSIP/101"


@pytest.fixture(scope="module")
def floor_url() -> Iterator[str]:
    """A database of the demo's own for these tests: the session's `callcards agi` may write
    the floor of the test database meanwhile (and hold the writer's lock there)."""
    name = f"callcards_floor_{os.getpid()}"
    yield demo_database(name)
    drop_database(name)


@pytest.fixture(scope="module")
def engine(floor_url: str) -> Iterator[Engine]:
    engine = make_engine(floor_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def floor_store(sessions: sessionmaker[Session], engine: Engine) -> Iterator[FloorStore]:
    yield FloorStore(sessions)
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE operator_states, live_events, live_floor, live_wrapups"))
        connection.execute(update(Queue).values(wrapup_hold_sec=0, missed_rings_pause=0))


def tracker_on(store: FloorStore) -> Tracker:
    """The demo's operators (operator1 is 101) and queues; the call's queue renamed 'sales'."""
    directory = store.directory("PJSIP/{extension}")
    queues = dict(directory.queues)
    queues["sales"] = queues["appointments"]
    return Tracker(replace(directory, queues=queues))


def intervals(sessions: sessionmaker[Session]) -> list[OperatorState]:
    with sessions() as session:
        return list(
            session.scalars(
                select(OperatorState)
                .where(OperatorState.interface == ANNA)
                .order_by(OperatorState.started_at, OperatorState.id)
            )
        )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_call_becomes_intervals_events_and_the_floor_row(
    floor_store: FloorStore, sessions: sessionmaker[Session]
) -> None:
    tracker = tracker_on(floor_store)
    floor_store.apply(tracker.resync(status([queue_member()]), T0), tracker.floor)
    for seconds, name, fields in a_call():
        floor_store.apply(tracker.handle({"Event": name, **fields}, at(seconds)), tracker.floor)

    rows = intervals(sessions)
    with sessions() as session:
        anna = session.scalar(select(User).where(User.extension == "101"))
        assert anna is not None
    assert all(row.user_id == anna.id for row in rows)
    membership = [row for row in rows if row.queue is not None]
    assert [(row.queue, row.started_at, row.ended_at) for row in membership] == [
        ("sales", T0, None)
    ]
    state = [(row.state, row.started_at, row.ended_at) for row in rows if row.queue is None]
    assert state == [
        ("ready", T0, at(2)),
        ("ringing", at(2), at(5)),
        ("talking", at(5), at(20)),
        ("hold", at(20), at(30)),
        ("talking", at(30), at(60)),
        ("ready", at(60), None),
    ]
    assert not any(row.gap for row in rows)
    with sessions() as session:
        kinds = [e.kind for e in session.scalars(select(LiveEvent).order_by(LiveEvent.id))]
        floor = session.get_one(LiveFloor, 1)
        last = session.scalar(select(LiveEvent.id).order_by(LiveEvent.id.desc()).limit(1))
    assert kinds[:4] == ["operator", "ami", "floor", "caller_joined"]
    assert kinds.count("ringing") == 1 and kinds.count("operator") == 6
    assert floor.event_id == last and floor.ami_connected
    assert Floor.from_json(floor.snapshot).operators[ANNA].state.value == "ready"


def test_ami_lost_closes_every_open_interval_as_a_gap_and_the_resync_opens_new(
    floor_store: FloorStore, sessions: sessionmaker[Session]
) -> None:
    tracker = tracker_on(floor_store)
    floor_store.apply(tracker.resync(status([queue_member()]), T0), tracker.floor)
    floor_store.apply(tracker.lost(at(30)), tracker.floor)
    floor_store.apply(
        tracker.resync(status([queue_member(Paused="1", PausedReason="lunch")]), at(90)),
        tracker.floor,
    )
    rows = [
        (r.queue, r.state, r.reason, r.started_at, r.ended_at, r.gap) for r in intervals(sessions)
    ]
    assert rows == [
        ("sales", "logged_in", None, T0, at(30), True),
        (None, "ready", None, T0, at(30), True),
        ("sales", "logged_in", None, at(90), None, False),
        (None, "paused", "lunch", at(90), None, False),
    ]
    with sessions() as session:
        assert session.get_one(LiveFloor, 1).ami_connected


def test_a_wrapup_row_opens_and_ends_with_its_card(
    floor_store: FloorStore, sessions: sessionmaker[Session], engine: Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(
            update(Queue).where(Queue.name == "appointments").values(wrapup_hold_sec=120)
        )
    tracker = tracker_on(floor_store)
    floor_store.apply(tracker.resync(status([queue_member()]), T0), tracker.floor)
    pauses = []
    for seconds, name, fields in a_call():
        pauses += floor_store.apply(
            tracker.handle({"Event": name, **fields}, at(seconds)), tracker.floor
        )
    assert [(p.paused, p.reason) for p in pauses] == [(True, "wrap-up")]
    (wrapup,) = floor_store.open_wrapups()
    assert (wrapup.started_at, wrapup.ends_at) == (at(60), at(180))
    linkedid = wrapup.linkedid
    assert floor_store.completed([linkedid]) == set()
    with sessions.begin() as session:
        session.add(Call(uniqueid=linkedid, linkedid=linkedid, started_at=T0, completed_at=at(90)))
    assert floor_store.completed([linkedid, "other"]) == {linkedid}
    floor_store.apply(tracker.end_wrapup(ANNA, at(90), "card_completed"), tracker.floor)
    with sessions() as session:
        row = session.scalars(select(LiveWrapup)).one()
    assert (row.ended_at, row.ended_by) == (at(90), "card_completed")
    state = [(r.state, r.started_at, r.ended_at) for r in intervals(sessions) if r.queue is None]
    assert state[-2:] == [("wrapup", at(60), at(90)), ("ready", at(90), None)]


def test_old_live_events_are_pruned(
    floor_store: FloorStore, sessions: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add(LiveEvent(kind=EventKind.AMI.value, data={}, at=now - KEEP_EVENTS * 2))
        session.add(LiveEvent(kind=EventKind.AMI.value, data={}, at=now))
    assert floor_store.prune(now) == 1
    with sessions() as session:
        assert len(session.scalars(select(LiveEvent)).all()) == 1


async def test_one_listener_writes_and_another_takes_over_when_its_connection_drops(
    floor_url: str, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    writing: list[FloorListener] = []

    async def listen(self: FloorListener) -> None:
        writing.append(self)
        await asyncio.Event().wait()

    monkeypatch.setattr(FloorListener, "_listen_forever", listen)
    settings = replace(load_settings({"DATABASE_URL": floor_url}), ami_secret="x")
    first = FloorListener(settings, make_engine(floor_url), retry_delays=(0.2,))
    second = FloorListener(settings, make_engine(floor_url), retry_delays=(0.2,))
    running = [asyncio.create_task(first.run())]
    await asyncio.wait_for(first.writer.wait(), 10)
    running.append(asyncio.create_task(second.run()))
    await asyncio.sleep(2.5)
    assert writing == [first] and not second.writer.is_set()

    with engine.begin() as connection:  # the writer's session dies (its host, its network)
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_locks "
                "WHERE locktype = 'advisory' AND objid = :key "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": 0x63_63_66_6C},
        )
    for _ in range(150):  # a writer again (the first to try the freed lock)
        if len(writing) > 1:
            break
        await asyncio.sleep(0.1)
    assert len(writing) == 2
    with engine.connect() as connection:
        holders = connection.scalar(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            ),
            {"key": 0x63_63_66_6C},
        )
    assert holders == 1
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    first.engine.dispose()
    second.engine.dispose()


def test_a_writer_that_lost_its_lock_writes_nothing(
    floor_store: FloorStore, sessions: sessionmaker[Session], engine: Engine
) -> None:
    tracker = tracker_on(floor_store)
    with engine.connect() as connection:
        pid = int(connection.scalar(text("SELECT pg_backend_pid()")) or 0)  # holds no lock
    with pytest.raises(NotWriter):
        floor_store.apply(tracker.resync(status([queue_member()]), T0), tracker.floor, pid)
    assert intervals(sessions) == []


def test_the_demo_on_sqlite_keeps_the_same_intervals(tmp_path: Path) -> None:
    """The embedded demo (SQLite, one process): the same call, the same rows."""
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with transaction(factory) as session:
        seed_demo(session)
    store = FloorStore(factory)
    tracker = tracker_on(store)
    store.apply(tracker.resync(status([queue_member()]), T0), tracker.floor)
    for seconds, name, fields in a_call():
        store.apply(tracker.handle({"Event": name, **fields}, at(seconds)), tracker.floor)
    store.apply(tracker.lost(at(90)), tracker.floor)
    rows = [(r.queue, r.state, r.started_at, r.ended_at, r.gap) for r in intervals(factory)]
    assert rows == [
        ("sales", "logged_in", T0, at(90), True),
        (None, "ready", T0, at(2), False),
        (None, "ringing", at(2), at(5), False),
        (None, "talking", at(5), at(20), False),
        (None, "hold", at(20), at(30), False),
        (None, "talking", at(30), at(60), False),
        (None, "ready", at(60), at(90), True),
    ]
    with factory() as session:
        assert not session.get_one(LiveFloor, 1).ami_connected
    engine.dispose()
