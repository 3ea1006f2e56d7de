"""The tracker's changes into the database: intervals, live events, wrap-ups, the picture.

One transaction per batch of changes (the events that arrived together): the intervals of
`operator_states` closed and opened, the `live_events` published (with NOTIFY on PostgreSQL,
sent at the commit), the `live_wrapups` opened and ended, and the `live_floor` row as of
the batch's last event. Readers never see half a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from live.bus import publish
from live.floor import Floor
from live.tracker import (
    Change,
    CloseAll,
    CloseInterval,
    Directory,
    EndWrapup,
    OpenInterval,
    OpenWrapup,
    Operator,
    PauseMember,
    Publish,
    QueueRules,
    Wrapup,
)
from models import Call, LiveEvent, LiveFloor, LiveWrapup, OperatorState, Queue, User
from models.base import utcnow

#: live_events are kept this long (browsers resume from a recent id, never older).
KEEP_EVENTS = timedelta(days=1)


class FloorStore:
    """Reads what the tracker needs and writes what it changes."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def directory(self, template: str) -> Directory:
        """Active users with an extension, by interface; every queue's floor settings."""
        with self.sessions() as session:
            users = session.execute(
                select(User.id, User.name, User.extension).where(
                    User.active.is_(True), User.extension.is_not(None)
                )
            )
            operators = [Operator(uid, name, ext) for uid, name, ext in users if ext]
            queues = {
                name: QueueRules(hold or 0, missed or 0)
                for name, hold, missed in session.execute(
                    select(Queue.name, Queue.wrapup_hold_sec, Queue.missed_rings_pause)
                )
            }
        return Directory.build(template, operators, queues)

    def open_wrapups(self) -> list[Wrapup]:
        """The wrap-ups still going on (they outlive a restart of the listener)."""
        with self.sessions() as session:
            rows = session.scalars(select(LiveWrapup).where(LiveWrapup.ended_at.is_(None)))
            return [
                Wrapup(row.user_id, row.linkedid, row.queue, row.started_at, row.ends_at)
                for row in rows
            ]

    def completed(self, linkedids: Iterable[str]) -> set[str]:
        """Which of these calls' cards the operator has completed."""
        wanted = sorted(set(linkedids))
        if not wanted:
            return set()
        with self.sessions() as session:
            return set(
                session.scalars(
                    select(Call.linkedid).where(
                        Call.linkedid.in_(wanted), Call.completed_at.is_not(None)
                    )
                )
            )

    def apply(
        self, changes: Sequence[Change], floor: Floor, writer_pid: int | None = None
    ) -> list[PauseMember]:
        """Write a batch in one transaction; the AMI pauses it asks for (sent by the caller).

        `floor` is the picture after the batch; its event_id is set to the batch's last event.
        `writer_pid`: the PostgreSQL backend holding the writer's advisory lock; the batch is
        written only while that backend still holds it (NotWriter otherwise), so a writer
        that lost its lock unnoticed cannot write over the next one's picture.
        """
        pauses: list[PauseMember] = []
        with self.sessions.begin() as session:
            if writer_pid is not None and not _holds(session, writer_pid):
                raise NotWriter(f"backend {writer_pid} no longer holds the floor's lock")
            for change in changes:
                if isinstance(change, PauseMember):
                    pauses.append(change)
                else:
                    event_id = _apply(session, change)
                    if event_id:
                        floor.event_id = event_id
            row = session.get(LiveFloor, 1)
            if row is None:
                row = LiveFloor(id=1)
                session.add(row)
            row.event_id = floor.event_id
            row.snapshot = floor.to_json()
            row.ami_connected = floor.ami_connected
            row.updated_at = utcnow()
        return pauses

    def prune(self, now: datetime) -> int:
        """Remove the live events older than KEEP_EVENTS; how many went."""
        with self.sessions.begin() as session:
            gone = session.execute(delete(LiveEvent).where(LiveEvent.at < now - KEEP_EVENTS))
            return int(getattr(gone, "rowcount", 0) or 0)


class NotWriter(RuntimeError):
    """This process no longer holds the floor writer's lock."""


#: The advisory lock key of the floor's writer (any constant the other locks do not use).
LOCK_KEY = 0x63_63_66_6C  # "ccfl"


def _holds(session: Session, pid: int) -> bool:
    return bool(
        session.execute(
            text(
                "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = :key "
                "AND pid = :pid AND granted"
            ),
            {"key": LOCK_KEY, "pid": pid},
        ).first()
    )


def _apply(session: Session, change: Change) -> int:
    """One change; the id of the event it published (0 when none)."""
    if isinstance(change, Publish):
        return publish(
            session, change.kind, change.data, queue=change.queue, user_id=change.user_id
        )
    if isinstance(change, OpenInterval):
        session.add(
            OperatorState(
                user_id=change.user_id,
                interface=change.interface,
                queue=change.queue,
                state=change.state.value,
                reason=change.reason,
                linkedid=change.linkedid,
                started_at=change.at,
            )
        )
    elif isinstance(change, CloseInterval):
        queue = (
            OperatorState.queue.is_(None)
            if change.queue is None
            else OperatorState.queue == change.queue
        )
        session.execute(
            update(OperatorState)
            .where(
                OperatorState.interface == change.interface,
                queue,
                OperatorState.ended_at.is_(None),
            )
            .values(ended_at=change.at, gap=change.gap)
        )
    elif isinstance(change, CloseAll):
        session.execute(
            update(OperatorState)
            .where(OperatorState.ended_at.is_(None))
            .values(ended_at=change.at, gap=True)
        )
    elif isinstance(change, OpenWrapup):
        session.add(
            LiveWrapup(
                user_id=change.user_id,
                linkedid=change.linkedid,
                queue=change.queue,
                started_at=change.at,
                ends_at=change.ends_at,
            )
        )
    elif isinstance(change, EndWrapup):
        session.execute(
            update(LiveWrapup)
            .where(LiveWrapup.user_id == change.user_id, LiveWrapup.ended_at.is_(None))
            .values(ended_at=change.at, ended_by=change.by)
        )
    return 0
