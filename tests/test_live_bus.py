"""The live floor's typed picture survives its JSON, and the event log keeps order and wakes
PostgreSQL readers at the commit."""

from __future__ import annotations

import select
import time
from datetime import UTC, datetime

import psycopg2
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from live.bus import CHANNEL, EventKind, events_after, last_event_id, publish
from live.floor import CallerWaiting, Floor, OperatorNow
from models.live import AgentState


def test_the_floor_picture_reads_back_what_was_stored() -> None:
    since = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    floor = Floor(
        callers={"reception": [CallerWaiting("17.1", "+79991234567", since, 1)]},
        operators={
            "PJSIP/101": OperatorNow(
                "PJSIP/101",
                3,
                "Anna",
                AgentState.PAUSED,
                since,
                reason="lunch",
                queues=["reception"],
            )
        },
        ami_connected=True,
        event_id=42,
    )
    assert Floor.from_json(floor.to_json()) == floor


def test_events_come_back_in_order_after_an_id_and_notify_at_the_commit(
    engine: Engine, sessions: sessionmaker[Session], database_url: str
) -> None:
    listener = psycopg2.connect(database_url.replace("postgresql+psycopg2://", "postgresql://"))
    listener.autocommit = True
    listener.cursor().execute(f"LISTEN {CHANNEL}")
    first = second = 0
    try:
        with sessions() as session:
            before = last_event_id(session)
            first = publish(session, EventKind.AMI, {"connected": True})
            second = publish(
                session, EventKind.RINGING, {"linkedid": "1.1"}, queue="reception", user_id=3
            )
            ours = {str(first), str(second)}
            listener.poll()
            # Nothing of ours before the commit (a floor listener of another test may publish).
            assert not ours & {n.payload for n in listener.notifies}
            session.commit()
        heard: list[str] = []
        deadline = time.monotonic() + 5
        while len(heard) < 2 and time.monotonic() < deadline:
            select.select([listener], [], [], 0.5)
            listener.poll()
            heard += [n.payload for n in listener.notifies if n.payload in ours]
            listener.notifies.clear()
        assert heard == [str(first), str(second)]
        with sessions() as session:
            events = [e for e in events_after(session, before) if e.id in (first, second)]
            assert [(e.id, e.kind, e.queue, e.user_id) for e in events] == [
                (first, "ami", None, None),
                (second, "ringing", "reception", 3),
            ]
            assert last_event_id(session) >= second
    finally:
        listener.close()
        with engine.begin() as connection:
            connection.execute(
                text("DELETE FROM live_events WHERE id IN (:a, :b)"), {"a": first, "b": second}
            )
