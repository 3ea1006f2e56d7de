"""The report figures, one definition each (METRICS.md), computed by SQL aggregates.

Every function takes a session, a period and the user whose scope applies, and returns plain
dataclasses; nothing here loads cards one by one, so the reports stay fast on a million cards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, not_, or_, select
from sqlalchemy.orm import Session, scoped_session

from models import Call, CallCategory, CallEvent, CallPurpose, Direction, Status, User
from models.routing import Queue
from webadmin.permissions import calls_scope
from webadmin.reports.period import Period
from webadmin.reports.sql import seconds_between, week_start

#: METRICS.md: an abandon this soon after entering the queue is a short abandon (N).
SHORT_ABANDON_SEC = 5
#: METRICS.md: the service-level target when a queue sets none (T).
SERVICE_LEVEL_SEC = 20
_ANSWERED, _ABANDONED, _MISSED = Status.ANSWERED.value, Status.ABANDONED.value, Status.MISSED.value

#: A plain session (tests, scripts) or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


def _share(part: float, whole: float) -> float | None:
    """part / whole × 100, None when there is nothing to divide by."""
    return part * 100.0 / whole if whole else None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _in_period(period: Period) -> ColumnElement[bool]:
    return and_(Call.started_at >= period.start, Call.started_at < period.end)


def _scoped(stmt: Any, user: Any) -> Any:
    # calls_scope is typed for one-entity selects; these select several aggregates.
    return calls_scope(stmt, user)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _total(condition: ColumnElement[bool], value: Any) -> Any:
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


# -- queues -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class QueueFigures:
    """One queue's row of the queue report (queue None: calls that never reached a queue)."""

    queue: str | None
    title: str
    service_level_sec: int
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    missed: int = 0
    closed: int = 0
    refused: int = 0
    answered_within: int = 0
    answered_wait_sec: float = 0

    @property
    def answer_rate(self) -> float | None:
        """answered / offered × 100."""
        return _share(self.answered, self.offered)

    @property
    def abandon_rate(self) -> float | None:
        """(abandoned − short abandons) / (offered − short abandons) × 100."""
        return _share(self.abandoned - self.short_abandoned, self.offered - self.short_abandoned)

    @property
    def service_level(self) -> float | None:
        """answered within T / (offered − short abandons) × 100."""
        return _share(self.answered_within, self.offered - self.short_abandoned)

    @property
    def asa(self) -> float | None:
        """Total wait of answered calls / answered calls, in seconds."""
        return _ratio(self.answered_wait_sec, self.answered)


def queue_total(rows: Sequence[QueueFigures], title: str) -> QueueFigures:
    """The rows added up (the service level keeps each queue's own T)."""
    sums = {name: sum(getattr(row, name) for row in rows) for name in (
        "offered", "answered", "abandoned", "short_abandoned", "missed", "closed", "refused",
        "answered_within", "answered_wait_sec")}
    return QueueFigures(queue=None, title=title, service_level_sec=0, **sums)


def queue_figures(session: DbSession, period: Period, user: Any,
                  short_abandon_sec: int = SHORT_ABANDON_SEC) -> list[QueueFigures]:
    """Offered, answered, abandoned, short abandons, missed, service level, ASA per queue.

    Inbound cards only, by the queue the card ended in. Calls arriving while closed
    (`closed_hours`) and calls the queue refused at join (`queue_full`, or `no_operator`:
    JOINEMPTY/JOINUNAVAIL) are counted apart, not as offered; a card that never
    entered a queue (no `queue_entered_at`) is not offered either.
    """
    reason = func.coalesce(Call.end_reason, "")
    closed = reason == "closed_hours"
    refused = reason.in_(["queue_full", "no_operator"])
    offered = and_(Call.queue_entered_at.is_not(None),
                   Call.status.in_([_ANSWERED, _ABANDONED, _MISSED]),
                   not_(closed), not_(refused))
    answered = and_(offered, Call.status == _ANSWERED)
    abandoned = and_(offered, Call.status == _ABANDONED)
    target = func.coalesce(Queue.service_level_sec, SERVICE_LEVEL_SEC)
    stmt = (
        select(
            Call.queue, func.max(Queue.title), func.max(target),
            _count(offered), _count(answered), _count(abandoned),
            _count(and_(abandoned, seconds_between(Call.queue_entered_at, Call.ended_at)
                        <= short_abandon_sec)),
            _count(and_(offered, Call.status == _MISSED)),
            _count(closed), _count(refused),
            _count(and_(answered, func.coalesce(Call.wait_sec, 0) <= target)),
            _total(answered, func.coalesce(Call.wait_sec, 0)),
        )
        .select_from(Call).outerjoin(Queue, Queue.name == Call.queue)
        .where(_in_period(period), Call.direction == Direction.INBOUND.value)
        .group_by(Call.queue)
        .order_by(Call.queue.nulls_last())
    )
    names = ("offered", "answered", "abandoned", "short_abandoned", "missed", "closed", "refused",
             "answered_within")
    rows = []
    for name, title, sl_sec, *counts, wait in session.execute(_scoped(stmt, user)):
        row = QueueFigures(name, title or name or "", int(sl_sec),
                           **{key: int(value) for key, value in zip(names, counts, strict=True)},
                           answered_wait_sec=float(wait))
        # Cards that never reached a queue only matter when they were closed or refused.
        if name is not None or row.closed or row.refused or row.offered:
            rows.append(row)
    return rows


# -- operators --------------------------------------------------------------------------------

@dataclass(frozen=True)
class OperatorFigures:
    """One operator's row of the efficiency report."""

    operator_id: int
    name: str
    answered: int = 0
    missed: int = 0
    talk_sec: float = 0
    hold_sec: float = 0
    after_call_sec: float = 0
    completed: int = 0  # answered cards with a saved card (after-call work is known)
    purposes: dict[str, int] = field(default_factory=dict)

    @property
    def talk_avg(self) -> float | None:
        """Total talk / answered calls, in seconds."""
        return _ratio(self.talk_sec, self.answered)

    @property
    def after_call_avg(self) -> float | None:
        """Total after-call work / cards saved, in seconds."""
        return _ratio(self.after_call_sec, self.completed)

    @property
    def aht(self) -> float | None:
        """(talk + hold + after-call work) / calls handled, in seconds."""
        return _ratio(self.talk_sec + self.hold_sec + self.after_call_sec, self.answered)


def _after_call_work() -> Any:
    # A card saved during the call has no after-call work, not a negative one.
    gap = seconds_between(Call.ended_at, Call.completed_at)
    return case((gap < 0, 0.0), else_=gap)


def operator_figures(session: DbSession, period: Period, user: Any,
                     no_purpose: str) -> list[OperatorFigures]:
    """Answered and missed, talk, hold, after-call work, AHT and purposes per operator.

    Answered: the operator's cards with status answered (inbound answered and outbound
    connected). Missed: calls whose ringing reached the operator's extension
    (`operator_rang` events) and that the operator did not answer, each call once.
    """
    answered = Call.status == _ANSWERED
    saved = and_(answered, Call.completed_at.is_not(None), Call.ended_at.is_not(None))
    stmt = (
        select(Call.operator_id, func.max(User.name), _count(answered),
               _total(answered, func.coalesce(Call.talk_sec, 0)),
               _total(answered, func.coalesce(Call.hold_sec, 0)),
               _total(saved, _after_call_work()), _count(saved))
        .join(User, User.id == Call.operator_id)
        .where(_in_period(period))
        .group_by(Call.operator_id)
    )
    found: dict[int, dict[str, Any]] = {}
    for operator_id, name, count, talk, hold, after, completed in session.execute(
            calls_scope(stmt, user)):
        found[operator_id] = {"name": name, "answered": int(count), "talk_sec": float(talk),
                              "hold_sec": float(hold), "after_call_sec": float(after),
                              "completed": int(completed), "purposes": {}}
    extension = CallEvent.data["extension"].as_string()
    rang = (
        select(User.id, func.max(User.name), func.count(distinct(Call.id)))
        .select_from(CallEvent).join(Call, Call.id == CallEvent.call_id)
        .join(User, User.extension == extension)
        .where(CallEvent.kind == "operator_rang", _in_period(period),
               Call.status != Status.RINGING.value,
               or_(Call.operator_id.is_(None), Call.operator_id != User.id))
        .group_by(User.id)
    )
    for operator_id, name, missed in session.execute(_scoped(rang, user)):
        found.setdefault(operator_id, {"name": name, "purposes": {}})["missed"] = int(missed)
    by_purpose = (
        select(Call.operator_id, func.max(CallPurpose.name), func.count())
        .outerjoin(CallPurpose, CallPurpose.id == Call.purpose_id)
        .where(_in_period(period), answered, Call.operator_id.is_not(None))
        .group_by(Call.operator_id, Call.purpose_id)
    )
    for operator_id, purpose, count in session.execute(_scoped(by_purpose, user)):
        if operator_id in found:
            found[operator_id]["purposes"][purpose or no_purpose] = int(count)
    rows = [OperatorFigures(operator_id, **values) for operator_id, values in found.items()]
    return sorted(rows, key=lambda row: (row.name, row.operator_id))


def operator_total(rows: Sequence[OperatorFigures], title: str) -> OperatorFigures:
    """All operators added up."""
    purposes: dict[str, int] = {}
    for row in rows:
        for name, count in row.purposes.items():
            purposes[name] = purposes.get(name, 0) + count
    sums = {name: sum(getattr(row, name) for row in rows) for name in (
        "answered", "missed", "talk_sec", "hold_sec", "after_call_sec", "completed")}
    return OperatorFigures(0, title, **sums, purposes=purposes)


# -- categories -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CategoryFigures:
    """One category's row: its cards, how many need a callback, and its count per ISO week."""

    category_id: int
    name: str
    cards: int = 0
    needs_callback: int = 0
    weeks: dict[str, int] = field(default_factory=dict)

    @property
    def callback_share(self) -> float | None:
        """Cards with needs_callback / cards × 100."""
        return _share(self.needs_callback, self.cards)


def iso_week(day: date) -> str:
    """An ISO week as `2026-W09`."""
    year, week, _weekday = day.isocalendar()
    return f"{year}-W{week:02d}"


def period_weeks(period: Period) -> list[str]:
    """The ISO weeks the period touches, in order."""
    day = period.first_day - timedelta(days=period.first_day.weekday())
    weeks = []
    while day <= period.last_day:
        weeks.append(iso_week(day))
        day += timedelta(days=7)
    return weeks


def _zone_name(tz: tzinfo) -> str:
    return str(getattr(tz, "key", None) or tz.tzname(None) or "UTC")


def category_figures(session: DbSession, period: Period, user: Any) -> list[CategoryFigures]:
    """Cards and the needs-callback share per category, and each category's weekly counts."""
    stmt = (
        select(Call.category_id, func.max(CallCategory.name), func.max(CallCategory.position),
               func.count(), _count(Call.needs_callback.is_(True)))
        .join(CallCategory, CallCategory.id == Call.category_id)
        .where(_in_period(period))
        .group_by(Call.category_id)
    )
    weeks = period_weeks(period)
    found: dict[int, CategoryFigures] = {}
    order: dict[int, tuple[int, str]] = {}
    for category_id, name, position, cards, callbacks in session.execute(_scoped(stmt, user)):
        found[category_id] = CategoryFigures(category_id, name, int(cards), int(callbacks),
                                             dict.fromkeys(weeks, 0))
        order[category_id] = (position, name)
    offset = period.start.astimezone(period.tz).utcoffset() or timedelta()
    week = week_start(Call.started_at, _zone_name(period.tz), int(offset.total_seconds() // 60))
    weekly = (
        select(Call.category_id, week.label("week"), func.count())
        .where(_in_period(period), Call.category_id.is_not(None))
        .group_by(Call.category_id, "week")
    )
    for category_id, monday, count in session.execute(_scoped(weekly, user)):
        day = monday if isinstance(monday, date) else date.fromisoformat(str(monday))
        found[category_id].weeks[iso_week(day)] = int(count)
    return sorted(found.values(), key=lambda row: order[row.category_id])


def category_total(rows: Sequence[CategoryFigures], title: str) -> CategoryFigures:
    """All categories added up, week by week."""
    weeks: dict[str, int] = {}
    for row in rows:
        for week, count in row.weeks.items():
            weeks[week] = weeks.get(week, 0) + count
    return CategoryFigures(0, title, sum(row.cards for row in rows),
                           sum(row.needs_callback for row in rows), weeks)
