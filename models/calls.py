"""The call card (`calls`) and its timeline (`call_events`)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dialplan.timeline import TimelineKind
from models.base import Base, JsonDocument, utcnow
from models.dictionaries import CallCategory, CallPurpose, CallSubCategory, CallTag, call_tags
from models.users import User


class Direction(StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Status(StrEnum):
    """Where the call stands; the last five are final for an unanswered call."""

    RINGING = "ringing"
    ANSWERED = "answered"
    MISSED = "missed"
    ABANDONED = "abandoned"
    BUSY = "busy"
    FAILED = "failed"
    #: The caller left the queue asking to be called back (virtual hold): not abandoned.
    CALLBACK_REQUESTED = "callback_requested"


class RecordingState(StrEnum):
    """What recordings/ found for the card's file."""

    PENDING = "pending"  # the call is still going on
    OK = "ok"
    MISSING = "missing"
    EMPTY = "empty"
    EXPIRED = "expired"  # removed by the queue's retention policy
    NONE = "none"  # the call ended before a queue (closed hours, IVR): nothing to record


def _quoted(values: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in values)


#: A card still open: the call has not ended (the partial indexes of the screen-pop).
OPEN_CARD = text("ended_at IS NULL")
#: A callback nobody has taken yet (the operators' scope, models/visibility.py).
CALLBACK_UNTAKEN = text("needs_callback AND operator_id IS NULL")
#: The calls list's order: PostgreSQL uses an index for it only when declared the same way.
_NEWEST_FIRST = (text("started_at DESC NULLS LAST"), text("id DESC"))


class Call(Base):
    """One call card: one per call, keyed on Asterisk's linkedid.

    The columns up to `notes` are the published card format that other tools rely on.
    """

    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint(f"direction IN ({_quoted(Direction)})", name="direction"),
        CheckConstraint(f"status IN ({_quoted(Status)})", name="status"),
        Index("ix_calls_started_at", "started_at"),
        Index("ix_calls_operator_started", "operator_id", "started_at"),
        Index("ix_calls_queue_started", "queue", "started_at"),
        Index("ix_calls_src_number_started", "src_number", "started_at"),
        # PostgreSQL: the calls list's order, its phone filter and its rare filters
        # (migration 0004; bench/site_history.py measures them on a million cards).
        Index("ix_calls_started_id_desc", *_NEWEST_FIRST).ddl_if(dialect="postgresql"),
        Index(
            "ix_calls_src_number_trgm",
            "src_number",
            postgresql_using="gin",
            postgresql_ops={"src_number": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_calls_dst_number_trgm",
            "dst_number",
            postgresql_using="gin",
            postgresql_ops={"dst_number": "gin_trgm_ops"},
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_calls_incomplete",
            *_NEWEST_FIRST,
            postgresql_where=text("status = 'answered' AND completed_at IS NULL"),
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_calls_needs_callback", *_NEWEST_FIRST, postgresql_where=text("needs_callback")
        ).ddl_if(dialect="postgresql"),
        # The screen-pop, polled every second by every operator, looks only at the few cards
        # still open (migration 0010): ringing at an extension, or in talk with an operator.
        Index(
            "ix_calls_open_ringing",
            "ringing_extension",
            postgresql_where=OPEN_CARD,
            sqlite_where=OPEN_CARD,
        ),
        Index(
            "ix_calls_open_operator",
            "operator_id",
            postgresql_where=OPEN_CARD,
            sqlite_where=OPEN_CARD,
        ),
        # An operator's list includes the callbacks nobody has taken in their queues: a few
        # cards, found here rather than among every card needing a callback (migration 0010).
        Index(
            "ix_calls_callbacks_untaken",
            "queue",
            postgresql_where=CALLBACK_UNTAKEN,
            sqlite_where=CALLBACK_UNTAKEN,
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    uniqueid: Mapped[str] = mapped_column(String(64), index=True)
    linkedid: Mapped[str] = mapped_column(String(64), unique=True)
    queue: Mapped[str | None] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(16), default=Direction.INBOUND.value)
    status: Mapped[str] = mapped_column(String(32), default=Status.RINGING.value)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    duration_sec: Mapped[int | None] = mapped_column(Integer)
    talk_sec: Mapped[int | None] = mapped_column(Integer)
    hold_sec: Mapped[int | None] = mapped_column(Integer)
    src_number: Mapped[str | None] = mapped_column(String(64))
    dst_number: Mapped[str | None] = mapped_column(String(64))
    did: Mapped[str | None] = mapped_column(String(32))
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    purpose_id: Mapped[int | None] = mapped_column(ForeignKey("call_purpose.id"))
    category_id: Mapped[int | None] = mapped_column(ForeignKey("call_category.id"))
    sub_category_id: Mapped[int | None] = mapped_column(ForeignKey("call_sub_category.id"))
    recording_path: Mapped[str | None] = mapped_column(String(255))
    recording_url: Mapped[str | None] = mapped_column(String(255))
    resolved_first_call: Mapped[bool] = mapped_column(Boolean, default=False)
    needs_callback: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The number a caller asked to be called back on (virtual hold), when it is not src_number.
    callback_number: Mapped[str | None] = mapped_column(String(32))
    notes: Mapped[str | None] = mapped_column(Text)

    # Beside the published columns.
    caller_name: Mapped[str | None] = mapped_column(String(128))
    did_source: Mapped[str | None] = mapped_column(String(128))  # campaign label at call time
    did_city: Mapped[str | None] = mapped_column(String(128))
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ivr_path: Mapped[str | None] = mapped_column(String(255))
    queue_entered_at: Mapped[datetime | None]
    wait_sec: Mapped[int | None] = mapped_column(Integer)
    recording_state: Mapped[str] = mapped_column(String(16), default=RecordingState.PENDING.value)
    completed_at: Mapped[datetime | None]  # the operator saved a complete card
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The extension ringing for this call now (set from queue events), for the screen-pop.
    ringing_extension: Mapped[str | None] = mapped_column(String(32), index=True)
    ringing_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    operator: Mapped[User | None] = relationship(foreign_keys=[operator_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    purpose: Mapped[CallPurpose | None] = relationship()
    category: Mapped[CallCategory | None] = relationship()
    sub_category: Mapped[CallSubCategory | None] = relationship()
    tags: Mapped[list[CallTag]] = relationship(secondary=call_tags, order_by=CallTag.position)
    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", cascade="all, delete-orphan"
    )

    @property
    def is_complete(self) -> bool:
        """True once an operator has saved the card's mandatory fields."""
        return self.completed_at is not None

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.linkedid} {self.status}>"


#: The timeline events that move a call from one queue to another (or end it after one).
MOVE_EVENTS = (TimelineKind.QUEUE_OVERFLOW, TimelineKind.TRANSFERRED)
MOVES_WHERE = "kind IN ({})".format(", ".join(f"'{kind}'" for kind in MOVE_EVENTS))


class CallEvent(Base):
    """One step of a call's timeline: entered IVR, key pressed, joined queue, answered, ..."""

    __tablename__ = "call_events"
    __table_args__ = (
        # The operator report's missed calls read the ringing events of a period by their time.
        Index(
            "ix_call_events_rang_at",
            "at",
            postgresql_where=text("kind = 'operator_rang'"),
            sqlite_where=text("kind = 'operator_rang'"),
        ),
        # The queue report reads the moves between queues of a recent period by their time,
        # and those of a past day's cards (its roll-up) by card.
        Index(
            "ix_call_events_moved_at",
            "at",
            postgresql_where=text(MOVES_WHERE),
            sqlite_where=text(MOVES_WHERE),
        ),
        Index(
            "ix_call_events_moves_by_call",
            "call_id",
            "at",
            postgresql_where=text(MOVES_WHERE),
            sqlite_where=text(MOVES_WHERE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    channel_uniqueid: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)

    call: Mapped[Call] = relationship(back_populates="events")


class AuditEntry(Base):
    """Who listened to or downloaded which recording, and other acts worth a trace."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id", ondelete="SET NULL"))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)

    user: Mapped[User | None] = relationship()
