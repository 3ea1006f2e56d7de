"""The floor listener against a scripted AMI peer: hostile events change nothing, a lost AMI
is a gap, the next session resyncs. The demo's SQLite database (one process, no lock)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import load_settings
from callcards.demo import seed_demo
from live.bus import EventKind
from live.listener import FloorListener
from live.tracker import Publish
from models import LiveEvent, OperatorState, migrate
from models.session import make_engine, make_session_factory, transaction
from tests.test_ami_listener import SECRET, ScriptedAmi

ANNA = "PJSIP/101"


class QueueAmi(ScriptedAmi):
    """The scripted peer, answering QueueStatus with operator1's phone in appointments."""

    def answer(self, action: dict[str, str]) -> str:
        tag = action["ActionID"]
        if action["Action"] != "QueueStatus":
            return super().answer(action)
        return (
            f"Response: Success\r\nEventList: start\r\nActionID: {tag}\r\n\r\n"
            f"Event: QueueParams\r\nQueue: appointments\r\nActionID: {tag}\r\n\r\n"
            f"Event: QueueMember\r\nQueue: appointments\r\nLocation: {ANNA}\r\n"
            f"Paused: 0\r\nStatus: 1\r\nInCall: 0\r\nActionID: {tag}\r\n\r\n"
            f"Event: QueueStatusComplete\r\nEventList: Complete\r\nActionID: {tag}\r\n\r\n"
        )


@pytest.fixture
async def asterisk() -> AsyncIterator[QueueAmi]:
    ami = QueueAmi()
    await ami.start()
    yield ami
    await ami.stop()


@pytest.fixture
def demo(tmp_path: Path) -> tuple[str, sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    factory = make_session_factory(make_engine(url))
    with transaction(factory) as session:
        seed_demo(session)
    return url, factory


async def until(check: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("never happened")


def anna(factory: sessionmaker[Session]) -> list[tuple[str | None, str, bool, bool]]:
    """operator1's intervals: (queue, state, still open, gap)."""
    with factory() as session:
        return [
            (row.queue, row.state, row.ended_at is None, row.gap)
            for row in session.scalars(
                select(OperatorState)
                .where(OperatorState.interface == ANNA)
                .order_by(OperatorState.id)
            )
        ]


async def test_hostile_events_change_nothing_and_a_lost_ami_is_a_gap(
    asterisk: QueueAmi, demo: tuple[str, sessionmaker[Session]]
) -> None:
    url, factory = demo
    settings = replace(
        load_settings({"DATABASE_URL": url}), ami_port=asterisk.port, ami_secret=SECRET
    )
    listener = FloorListener(settings, make_engine(url), retry_delays=(0.05,), timeout=2)
    running = asyncio.create_task(listener.run())
    try:
        await asyncio.wait_for(listener.listening.wait(), 10)
        await until(
            lambda: (
                anna(factory)
                == [
                    ("appointments", "logged_in", True, False),
                    (None, "ready", True, False),
                ]
            )
        )
        for hostile in (
            {"Event": "AgentCalled", "Queue": "nowhere", "Interface": ANNA, "Linkedid": "x.1"},
            {
                "Event": "AgentCalled",
                "Queue": "appointments",
                "Interface": "PJSIP/999",
                "Linkedid": "x.2",
            },
            {"Event": "AgentCalled", "Queue": "appointments", "Interface": ANNA},
            {
                "Event": "AgentCalled",
                "Queue": "appointments",
                "Interface": ANNA,
                "Linkedid": "é" * 300,
            },
            {"Event": "QueueMemberPause", "Queue": "appointments", "Paused": "1"},
            {"Event": "QueueCallerJoin", "Queue": "appointments"},
            {"Event": "Hold", "Linkedid": "nobody"},
            {"Event": "Unknown", "Queue": "appointments"},
            {"Event": "DeviceStateChange", "Device": "PJSIP/999", "State": "UNAVAILABLE"},
        ):
            asterisk.send(hostile)
        asterisk.send(
            {
                "Event": "AgentCalled",
                "Queue": "appointments",
                "Interface": ANNA,
                "Linkedid": "ok.1",
                "CallerIDNum": "79991112233",
            }
        )
        await until(lambda: (None, "ringing", True, False) in anna(factory))
        assert anna(factory) == [
            ("appointments", "logged_in", True, False),
            (None, "ready", False, False),
            (None, "ringing", True, False),
        ]
        with factory() as session:
            rings = session.scalars(select(LiveEvent).where(LiveEvent.kind == "ringing")).all()
        assert [(e.data["linkedid"], e.data["number"]) for e in rings] == [("ok.1", "79991112233")]
        assert listener.tracker.skipped == 8  # "Unknown" is not even asked for

        await asterisk.stop()  # Asterisk goes away: what was open ends as a gap
        await until(lambda: not any(is_open for _, _, is_open, _ in anna(factory)))
        assert anna(factory)[-1] == (None, "ringing", False, True)
        await asterisk.start(asterisk.port)  # back: the picture again, from QueueStatus
        await until(lambda: anna(factory)[-1] == (None, "ready", True, False))
        assert running.done() is False
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        listener.engine.dispose()


class FailingStore:
    """A store whose every write fails with `error`."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def apply(self, *args: object, **kwargs: object) -> list[object]:
        raise self.error


async def test_changes_wait_while_the_database_is_away_but_a_refused_batch_is_dropped(
    demo: tuple[str, sessionmaker[Session]],
) -> None:
    url, _ = demo
    listener = FloorListener(
        replace(load_settings({"DATABASE_URL": url}), ami_secret=SECRET), make_engine(url)
    )
    change = Publish(EventKind.AMI, {"connected": True})
    away = OperationalError("SELECT 1", {}, Exception("connection refused"))
    listener.store = FailingStore(away)  # type: ignore[assignment]
    assert await listener._write([change]) == []
    assert listener._pending == [change]  # written with the next batch
    refused = IntegrityError("INSERT", {}, Exception("value too long"))
    listener.store = FailingStore(refused)  # type: ignore[assignment]
    with pytest.raises(IntegrityError):  # the session ends; the next one resyncs
        await listener._write([change])
    assert listener._pending == []
    listener.engine.dispose()
