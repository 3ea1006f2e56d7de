"""The live floor: operators' state intervals, the event log the browsers follow, the picture.

Written by one process (the FastAGI server's floor listener, live/), read by every site
worker. docs/architecture.md "The live floor" says how the rows travel.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, JsonDocument, utcnow

#: SQLite makes an INTEGER PRIMARY KEY its rowid (auto-incrementing); PostgreSQL a bigserial.
EventId = BigInteger().with_variant(Integer(), "sqlite")


class AgentState(StrEnum):
    """What an operator is doing now (one open interval with queue NULL per operator)."""

    READY = "ready"
    RINGING = "ringing"
    TALKING = "talking"
    HOLD = "hold"
    WRAPUP = "wrapup"
    PAUSED = "paused"
    #: Logged in to a queue (intervals with `queue` set, one per queue).
    LOGGED_IN = "logged_in"


#: Intervals longer than a day, or still open: the few a report cannot find by their start
#: near its period (ix_operator_states_long; the query repeats this text so the planner
#: proves the index applies).
LONG_INTERVAL = {
    "postgresql": "ended_at IS NULL OR ended_at - started_at > interval '1 day'",
    "sqlite": "ended_at IS NULL OR julianday(ended_at) - julianday(started_at) > 1",
}


class OperatorState(Base):
    """One interval of an operator's day: a state (queue NULL) or a queue membership.

    `ended_at` NULL: still going on. `gap`: the interval's end is not known because the
    listener lost Asterisk; it was closed at the moment the loss was noticed.
    """

    __tablename__ = "operator_states"
    __table_args__ = (
        Index("ix_operator_states_user_started", "user_id", "started_at"),
        Index("ix_operator_states_started", "started_at"),
        Index(
            "ix_operator_states_open",
            "interface",
            postgresql_where=text("ended_at IS NULL"),
            sqlite_where=text("ended_at IS NULL"),
        ),
        # The sessions report (reports/sessions.py, migration 0017): an interval overlapping
        # a period began at most a day before it, or is long (or open); gaps read apart.
        # The logged_in and ringing intervals of a period without the rest of its rows.
        Index("ix_operator_states_state_started", "state", "started_at"),
        Index(
            "ix_operator_states_long",
            "started_at",
            postgresql_where=text(LONG_INTERVAL["postgresql"]),
            sqlite_where=text(LONG_INTERVAL["sqlite"]),
        ),
        Index(
            "ix_operator_states_gap",
            "ended_at",
            postgresql_where=text("gap"),
            sqlite_where=text("gap = 1"),
        ),
    )

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    interface: Mapped[str] = mapped_column(String(128))  # e.g. PJSIP/101
    queue: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # AgentState
    reason: Mapped[str | None] = mapped_column(String(64))  # a pause's reason
    linkedid: Mapped[str | None] = mapped_column(String(64))  # the call, for call states
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    gap: Mapped[bool] = mapped_column(Boolean, default=False)


class LiveEvent(Base):
    """One change of the floor, in order: what the browsers' streams carry (SSE ids)."""

    __tablename__ = "live_events"

    id: Mapped[int] = mapped_column(EventId, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    queue: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)


class LiveFloor(Base):
    """The whole floor now (live/floor.py's Floor as JSON), as of event `event_id`: one row."""

    __tablename__ = "live_floor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    event_id: Mapped[int] = mapped_column(EventId, default=0)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    ami_connected: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class LiveWrapup(Base):
    """An operator held out of their queues until the card is complete (or the time is up)."""

    __tablename__ = "live_wrapups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    linkedid: Mapped[str] = mapped_column(String(64))
    queue: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime]  # the queue's longest wrap-up runs out
    ended_at: Mapped[datetime | None]
    #: card_completed | time_up | supervisor | operator
    ended_by: Mapped[str | None] = mapped_column(String(32))
