"""The tracker's changes into the database: intervals, live events, wrap-ups, the picture.

One transaction per batch of changes (the events that arrived together): the intervals of
`operator_states` closed and opened, the `live_events` published (with NOTIFY on PostgreSQL,
sent at the commit), the `live_wrapups` opened and ended, and the `live_floor` row as of
the batch's last event. Readers never see half a batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, String, column, delete, select, text, update, values
from sqlalchemy.orm import Session, sessionmaker

from live.ami import StopListening
from live.bus import EventKind, publish_many
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
from models.base import UtcDateTime, utcnow

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
        self,
        changes: Sequence[Change],
        floor: Floor,
        writer_pid: int | None = None,
        *,
        snapshot: bool = True,
    ) -> list[PauseMember]:
        """Write a batch in one transaction; the AMI pauses it asks for (sent by the caller).

        `floor` is the picture after the batch; its event_id is set to the batch's last event.
        `writer_pid`: the PostgreSQL backend holding the writer's advisory lock; the batch is
        written only while that backend still holds it (NotWriter otherwise), so a writer
        that lost its lock unnoticed cannot write over the next one's picture.
        `snapshot` False leaves the live_floor row as it was: still a true picture as of its
        own event_id, which readers follow with the events after it.
        """
        pauses: list[PauseMember] = []
        with self.sessions.begin() as session, session.no_autoflush:
            if writer_pid is not None and not _holds(session, writer_pid):
                raise NotWriter(f"backend {writer_pid} no longer holds the floor's lock")
            batch = _Batch(session)
            for change in changes:
                if isinstance(change, PauseMember):
                    pauses.append(change)
                else:
                    batch.add(change)
            ids = batch.write()
            if ids:
                floor.event_id = ids[-1]
            if not snapshot:
                return pauses
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


class NotWriter(StopListening):
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


class _Batch:
    """One batch's changes, written in a few statements whatever its size.

    An interval opened in the batch is closed in memory (it is inserted already ended);
    the intervals open in the database are closed by one UPDATE ... FROM VALUES (before a
    CloseAll, which ends what is still open); inserts go last, in one statement per table.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.fresh: dict[tuple[str, str | None], OperatorState] = {}
        self.rows: list[OperatorState] = []
        self.closes: list[CloseInterval] = []
        self.events: list[tuple[EventKind, dict[str, Any], str | None, int | None]] = []
        self.wrapups: list[Change] = []

    def add(self, change: Change) -> None:
        if isinstance(change, Publish):
            self.events.append((change.kind, change.data, change.queue, change.user_id))
        elif isinstance(change, OpenInterval):
            row = OperatorState(
                user_id=change.user_id,
                interface=change.interface,
                queue=change.queue,
                state=change.state.value,
                reason=change.reason,
                linkedid=change.linkedid,
                started_at=change.at,
                gap=False,
            )
            self.fresh[(change.interface, change.queue)] = row
            self.rows.append(row)
        elif isinstance(change, CloseInterval):
            opened = self.fresh.pop((change.interface, change.queue), None)
            if opened is None:
                self.closes.append(change)
            else:
                opened.ended_at, opened.gap = change.at, change.gap
        elif isinstance(change, CloseAll):
            self._close_in_database()
            self.session.execute(
                update(OperatorState)
                .where(OperatorState.ended_at.is_(None))
                .values(ended_at=change.at, gap=True)
                .execution_options(synchronize_session=False)
            )
            for row in self.fresh.values():
                row.ended_at, row.gap = change.at, True
            self.fresh.clear()
        else:  # OpenWrapup, EndWrapup: in order with each other
            self.wrapups.append(change)

    def write(self) -> list[int]:
        """Everything to the session; the published events' ids."""
        self._close_in_database()
        for change in self.wrapups:
            _wrapup(self.session, change)
        self.session.add_all(self.rows)
        ids = publish_many(self.session, self.events)  # flushes the intervals too
        self.session.flush()
        return ids

    def _close_in_database(self) -> None:
        if not self.closes:
            return
        if self.session.get_bind().dialect.name != "postgresql":
            for close in self.closes:
                self.session.execute(
                    update(OperatorState)
                    .where(
                        OperatorState.interface == close.interface,
                        OperatorState.queue.is_not_distinct_from(close.queue),
                        OperatorState.ended_at.is_(None),
                    )
                    .values(ended_at=close.at, gap=close.gap)
                    .execution_options(synchronize_session=False)
                )
        else:
            ending = values(
                column("interface", String),
                column("queue", String),
                column("at", UtcDateTime()),
                column("gap", Boolean),
                name="ending",
            ).data([(c.interface, c.queue, c.at, c.gap) for c in self.closes])
            self.session.execute(
                update(OperatorState)
                .where(
                    OperatorState.interface == ending.c.interface,
                    OperatorState.queue.is_not_distinct_from(ending.c.queue),
                    OperatorState.ended_at.is_(None),
                )
                .values(ended_at=ending.c.at, gap=ending.c.gap)
                .execution_options(synchronize_session=False)
            )
        self.closes = []


def _wrapup(session: Session, change: Change) -> None:
    if isinstance(change, OpenWrapup):
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
        session.flush()  # a wrap-up opened earlier in the batch ends too
        session.execute(
            update(LiveWrapup)
            .where(LiveWrapup.user_id == change.user_id, LiveWrapup.ended_at.is_(None))
            .values(ended_at=change.at, ended_by=change.by)
            .execution_options(synchronize_session=False)
        )
