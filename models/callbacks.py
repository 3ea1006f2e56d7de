"""Callback tasks: one open task per caller's number per queue, the cards it gathers, and
the calls we made to win the caller back (callbacks/ makes and closes them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, utcnow
from models.calls import Call
from models.users import User


class TaskReason(StrEnum):
    """Why the caller was lost (the first card that made the task)."""

    MISSED = "missed"
    ABANDONED = "abandoned"
    VOICEMAIL = "voicemail"
    OUT_OF_HOURS = "out_of_hours"
    MARKED = "marked"  # an operator marked the card "needs callback"
    CALLBACK_REQUESTED = "callback_requested"  # virtual hold: keeps the caller's place


class TaskOutcome(StrEnum):
    """How a task closed, or what one attempt gave."""

    REACHED = "reached"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    WRONG_NUMBER = "wrong_number"
    DO_NOT_CALL = "do_not_call"  # asked not to be called
    GOT_THROUGH = "got_through"  # the caller got through on their own
    UNREACHABLE = "unreachable"  # the queue's attempts ran out


def _quoted(values: type[StrEnum]) -> str:
    return ", ".join(f"'{member.value}'" for member in values)


#: A task still to be done: at most one per number and queue (uq_callback_tasks_open).
OPEN_TASK = text("closed_at IS NULL")


class CallbackTask(Base):
    """A lost caller to win back: their number, the queue, the attempts and when to try next."""

    __tablename__ = "callback_tasks"
    __table_args__ = (
        CheckConstraint(f"reason IN ({_quoted(TaskReason)})", name="reason"),
        CheckConstraint(f"outcome IN ({_quoted(TaskOutcome)})", name="outcome"),
        Index(
            "uq_callback_tasks_open",
            "queue",
            "number",
            unique=True,
            postgresql_where=OPEN_TASK,
            sqlite_where=OPEN_TASK,
        ),
        Index("ix_callback_tasks_number", "number"),
        Index("ix_callback_tasks_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue: Mapped[str] = mapped_column(String(64))
    number: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(32))
    #: Smaller first; a callback the caller asked for comes before the others.
    priority: Mapped[int] = mapped_column(Integer, default=1)
    #: When the caller first joined (a virtual-hold caller's queue_entered_at): their place.
    waiting_since: Mapped[datetime]
    last_call_at: Mapped[datetime]
    lost_calls: Mapped[int] = mapped_column(Integer, default=1)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    first_attempt_at: Mapped[datetime | None]
    taken_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    taken_by: Mapped[User | None] = relationship(foreign_keys=[taken_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    cards: Mapped[list[CallbackCard]] = relationship(
        back_populates="task", order_by="CallbackCard.call_id"
    )
    tries: Mapped[list[CallbackAttempt]] = relationship(
        back_populates="task", order_by="CallbackAttempt.id"
    )

    @property
    def is_open(self) -> bool:
        """True until the task closes (reached, got through, unreachable...)."""
        return self.closed_at is None


class CallbackCard(Base):
    """A lost card gathered by a task: each card joins at most one task, once."""

    __tablename__ = "callback_cards"

    call_id: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    task_id: Mapped[int] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True
    )

    task: Mapped[CallbackTask] = relationship(back_populates="cards")
    call: Mapped[Call] = relationship()


class CallbackAttempt(Base):
    """One call we placed for a task: who, when, its outbound card and what it gave."""

    __tablename__ = "callback_attempts"
    __table_args__ = (CheckConstraint(f"outcome IN ({_quoted(TaskOutcome)})", name="outcome"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(
        ForeignKey("callback_tasks.id", ondelete="CASCADE"), index=True
    )
    operator_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The outbound call's card, once Asterisk made it (linked by the originate's linkedid).
    linkedid: Mapped[str | None] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(32))
    recorded_at: Mapped[datetime | None]

    task: Mapped[CallbackTask] = relationship(back_populates="tries")
    operator: Mapped[User | None] = relationship()
