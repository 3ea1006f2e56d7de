"""The floor's events between processes: rows of `live_events`, in order, and a NOTIFY.

The floor listener `publish`es each change in the transaction that changes the floor; the
row's id is the event id browsers resume from (SSE Last-Event-ID). On PostgreSQL the same
transaction sends NOTIFY on CHANNEL with the id, so every site worker wakes at the commit;
on SQLite (the demo) readers poll `events_after`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from models.live import LiveEvent

#: The PostgreSQL channel the floor listener notifies on.
CHANNEL = "callcards_live"


class EventKind(StrEnum):
    """What a live event says (LiveEvent.kind); `data` is the event's own fields."""

    CALLER_JOINED = "caller_joined"  # queue; data: linkedid, number, joined_at, position
    CALLER_LEFT = "caller_left"  # queue; data: linkedid, why (answered, abandoned, ...)
    OPERATOR = "operator"  # user_id; data: OperatorNow.to_json()
    RINGING = "ringing"  # user_id, queue; data: linkedid, number (the screen-pop)
    WRAPUP = "wrapup"  # user_id; data: linkedid, ends_at, or ended_by
    FLOOR = "floor"  # the whole picture changed (resync): read live_floor again
    AMI = "ami"  # data: connected (bool)


def publish(
    session: Session,
    kind: EventKind,
    data: dict[str, Any],
    *,
    queue: str | None = None,
    user_id: int | None = None,
) -> int:
    """Add one event to the log (committed by the caller) and notify readers at the commit."""
    event = LiveEvent(kind=kind.value, queue=queue, user_id=user_id, data=data)
    session.add(event)
    session.flush()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, :id)"), {"channel": CHANNEL, "id": str(event.id)}
        )
    return event.id


def publish_many(
    session: Session, events: list[tuple[EventKind, dict[str, Any], str | None, int | None]]
) -> list[int]:
    """`publish` for many events (kind, data, queue, user_id) in two statements: one insert,
    one NOTIFY per id (PostgreSQL). The ids, in order."""
    if not events:
        return []
    rows = [
        LiveEvent(kind=kind.value, queue=queue, user_id=user_id, data=data)
        for kind, data, queue, user_id in events
    ]
    session.add_all(rows)
    session.flush()
    ids = [row.id for row in rows]
    if session.get_bind().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_notify(:channel, id::text) FROM unnest(CAST(:ids AS bigint[])) AS id"),
            {"channel": CHANNEL, "ids": ids},
        )
    return ids


def events_after(session: Session, event_id: int, limit: int = 500) -> list[LiveEvent]:
    """The events after `event_id`, oldest first, at most `limit`."""
    query = select(LiveEvent).where(LiveEvent.id > event_id).order_by(LiveEvent.id).limit(limit)
    return list(session.scalars(query))


def last_event_id(session: Session) -> int:
    """The newest event's id (0 when there is none)."""
    return int(session.scalar(select(func.coalesce(func.max(LiveEvent.id), 0))) or 0)
