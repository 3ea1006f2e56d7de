"""The call-flow settings an admin edits (the draft) and the versions they publish.

The FastAGI server routes calls from the newest published `FlowVersion`, never from the
draft tables, so an admin's half-finished edit never reaches a caller. The structured
parts (actions, weekly hours, menu options) are stored in the shapes of the flow document
that `dialplan.settings.FlowSettings.from_document` reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, JsonDocument, utcnow


class Queue(Base):
    """An Asterisk queue: who answers, how long a caller may wait, its service-level target."""

    __tablename__ = "queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)  # the name in queues.conf
    title: Mapped[str] = mapped_column(String(128))
    strategy: Mapped[str] = mapped_column(String(32), default="rrmemory")
    ring_timeout_sec: Mapped[int] = mapped_column(Integer, default=15)
    max_wait_sec: Mapped[int] = mapped_column(Integer, default=120)
    wrapup_sec: Mapped[int] = mapped_column(Integer, default=0)
    service_level_sec: Mapped[int] = mapped_column(Integer, default=20)
    retention_days: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Flow-document actions (queue, or hangup with a message); None: hang up.
    when_empty: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    when_timeout: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    # Callback tasks: retry schedule, attempts, short abandons, mode (dialplan QueueCallbacks).
    callbacks: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    # The live floor (migration 0016). After an answered call the operator is held out of the
    # queue until their card is complete, at most this long (0: not held).
    wrapup_hold_sec: Mapped[int] = mapped_column(Integer, default=0)
    # Rings not answered in a row before the operator is paused "missed calls" (0: never).
    missed_rings_pause: Mapped[int] = mapped_column(Integer, default=0)
    # The wallboard's thresholds: the longest acceptable wait and the service-level target.
    max_wait_alert_sec: Mapped[int] = mapped_column(Integer, default=60)
    service_level_target_pct: Mapped[int] = mapped_column(Integer, default=80)
    # Virtual hold, in the flow document's shape (dialplan.virtual_hold); None: no offer.
    callback_offer: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)

    def __repr__(self) -> str:
        return f"<Queue {self.name}>"


class Schedule(Base):
    """Business hours: weekly ranges in a time zone, holidays, exceptions, an override."""

    __tablename__ = "schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Moscow")
    weekly: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    holidays: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    exceptions: Mapped[list[Any]] = mapped_column(JsonDocument, default=list)
    override: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument)
    closed_action: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)


class IvrMenu(Base):
    """A voice menu: a prompt, the digits a caller may press, and what happens on silence."""

    __tablename__ = "ivr_menus"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    prompt: Mapped[str] = mapped_column(String(255))
    timeout_sec: Mapped[int] = mapped_column(Integer, default=5)
    retries: Mapped[int] = mapped_column(Integer, default=2)
    timeout_prompt: Mapped[str | None] = mapped_column(String(255))
    invalid_prompt: Mapped[str | None] = mapped_column(String(255))
    options: Mapped[list[dict[str, Any]]] = mapped_column(JsonDocument, default=list)
    default_action: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)


class Did(Base):
    """A dialled number: where its calls enter, and which ad or site it tracks."""

    __tablename__ = "dids"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    entry: Mapped[dict[str, Any]] = mapped_column(JsonDocument, default=dict)
    source: Mapped[str | None] = mapped_column(String(128))
    city: Mapped[str | None] = mapped_column(String(128))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    schedule: Mapped[Schedule | None] = relationship()


class FlowSetting(Base):
    """A single call-flow setting that belongs to no table (e.g. the default queue)."""

    __tablename__ = "flow_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JsonDocument)


class FlowVersion(Base):
    """A published call flow: the whole document, who published it and why."""

    __tablename__ = "flow_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    comment: Mapped[str] = mapped_column(Text, default="")
    document: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
