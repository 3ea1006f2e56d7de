"""The report figures, one definition each (METRICS.md), computed by SQL aggregates.

Every function takes a session, a period and the user whose scope applies, and returns plain
dataclasses; nothing here loads cards one by one. The days the daily roll-ups cover are read
from them and the rest of the period from the cards (rollup.py); every figure is a sum or
a count, so the two add up to exactly what the cards alone would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any

from sqlalchemy import and_, distinct, func, not_, null, or_, select
from sqlalchemy.orm import Session, scoped_session

from callcards.config import FCR_REPEAT_DAYS
from dialplan.timeline import TimelineKind
from models import (
    Call,
    CallCategory,
    CallEvent,
    CallPurpose,
    CategoryDay,
    Direction,
    FirstCallDay,
    OperatorDay,
    QueueDay,
    RangDay,
    Status,
    User,
    WaitDay,
)
from models.routing import Queue
from models.visibility import calls_scope, rows_seen
from reports import outcomes as o
from reports.period import Period
from reports.rollup import Coverage, coverage, first_call_coverage, service_levels
from reports.sql import week_start

#: METRICS.md: an abandon this soon after entering the queue is a short abandon (N).
SHORT_ABANDON_SEC = 5
#: METRICS.md: the service-level target when a queue sets none (T).
SERVICE_LEVEL_SEC = 20

#: A plain session (tests, scripts) or Flask-SQLAlchemy's scoped one.
DbSession = Session | scoped_session[Any]


def _share(part: float, whole: float) -> float | None:
    """part / whole × 100, None when there is nothing to divide by."""
    return part * 100.0 / whole if whole else None


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _scoped(stmt: Any, user: Any) -> Any:
    # calls_scope is typed for one-entity selects; these select several aggregates.
    return calls_scope(stmt, user)


def _add(into: dict[Any, dict[str, Any]], key: Any, **values: Any) -> None:
    """Add figures from one source (roll-ups or cards) to those of the other."""
    found = into.setdefault(key, {})
    for name, value in values.items():
        found[name] = found.get(name, 0) + value


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
    callback_requested: int = 0  # offered, left with the callback key (virtual hold)

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


_QUEUE_SUMS = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "missed",
    "closed",
    "refused",
    "answered_within",
    "answered_wait_sec",
    "callback_requested",
)


@dataclass(frozen=True)
class QueueReport:
    """The queue rows (each queue a call entered) and their total (each call once)."""

    rows: list[QueueFigures]
    total: QueueFigures


def _queue_sums(leg: o.Leg, short_abandon_sec: int, target: Any) -> list[Any]:
    """The aggregates of `_QUEUE_SUMS` over legs, in that order."""
    offered, answered, abandoned, missed, closed, refused, wait, callbacks = leg.counts()
    return [
        offered,
        answered,
        abandoned,
        o.count_of(and_(leg.ended(o.ABANDONED), leg.abandon_seconds <= short_abandon_sec)),
        missed,
        closed,
        refused,
        o.count_of(and_(leg.ended(o.ANSWERED), leg.wait <= target)),
        wait,
        callbacks,
    ]


def _replace_sums(
    session: DbSession,
    user: Any,
    into: dict[Any, dict[str, Any]],
    cover: Coverage,
    cards: Any,
    instead: o.Leg,
    short_abandon_sec: int,
) -> None:
    """Over the raw cards joined to `cards` (a subquery by call_id), count `instead` in place
    of each card as a whole call: the difference of the two sums, added per queue."""
    target = func.coalesce(Queue.service_level_sec, SERVICE_LEVEL_SEC)
    stmt = (
        select(
            Call.queue,
            *_queue_sums(o.each_call(), short_abandon_sec, target),
            *_queue_sums(instead, short_abandon_sec, target),
        )
        .join(cards, cards.c.call_id == Call.id)
        .outerjoin(Queue, Queue.name == Call.queue)
        .where(cover.raw(), Call.direction == Direction.INBOUND.value)
        .group_by(Call.queue)
    )
    width = len(_QUEUE_SUMS)
    for name, *values in session.execute(_scoped(stmt, user)):
        changes = zip(_QUEUE_SUMS, values[:width], values[width:], strict=True)
        _add(into, name, **{key: other - whole for key, whole, other in changes})


def queue_report(
    session: DbSession, period: Period, user: Any, short_abandon_sec: int = SHORT_ABANDON_SEC
) -> QueueReport:
    """Offered, answered, abandoned, short abandons, missed, service level, ASA per queue.

    Inbound cards only. A queue's row counts every call that entered it (outcomes.py, legs):
    one that overflowed or was transferred to another queue counts in both, with what became
    of it in each and its wait from entering each. The total counts each call once, from the
    caller's view across every queue it entered (outcomes.callers_view), with its whole
    wait. Calls arriving while closed (`closed_hours`) and calls a queue refused at join
    (`queue_full`, or `no_operator`: JOINEMPTY/JOINUNAVAIL) are counted apart, not as
    offered; a card that never entered a queue is not offered either.
    """
    cover = coverage(session, period, user, [short_abandon_sec, *service_levels(session)])
    target = func.coalesce(Queue.service_level_sec, SERVICE_LEVEL_SEC)
    legs: dict[str | None, dict[str, Any]] = {}
    calls: dict[str | None, dict[str, Any]] = {}
    if cover.stretches and cover.earliest_raw is not None:
        stmt = (
            select(Call.queue, *_queue_sums(o.each_call(), short_abandon_sec, target))
            .outerjoin(Queue, Queue.name == Call.queue)
            .where(cover.raw(), Call.direction == Direction.INBOUND.value)
            .group_by(Call.queue)
        )
        for name, *values in session.execute(_scoped(stmt, user)):
            _add(calls, name, **dict(zip(_QUEUE_SUMS, values, strict=True)))
            _add(legs, name, **dict(zip(_QUEUE_SUMS, values, strict=True)))
        # A card that never moved is its own final leg; one that moved counts from its last
        # move on instead (a sum replaced by another: exact, and only the moved cards read).
        moves = o.last_moves(cover.raw(), cover.earliest_raw)
        _replace_sums(session, user, legs, cover, moves, o.final_leg(moves), short_abandon_sec)
        # The total takes the caller's view of a call that moved: a sum replaced by another
        # again, over the cards with earlier legs only.
        taken = o.taken_earlier(cover.raw(), cover.earliest_raw)
        _replace_sums(session, user, calls, cover, taken, o.callers_view(taken), short_abandon_sec)
        earlier = o.earlier_legs(cover.raw(), cover.earliest_raw)
        # An earlier leg is seen by whoever oversees its queue, as the roll-ups' rows are.
        for name, *values in session.execute(
            select(earlier.c.queue, *_queue_sums(o.earlier_leg(earlier), short_abandon_sec, target))
            .select_from(earlier)
            .outerjoin(Queue, Queue.name == earlier.c.queue)
            .where(rows_seen(user, earlier.c.queue, null()))
            .group_by(earlier.c.queue)
        ):
            _add(legs, name, **dict(zip(_QUEUE_SUMS, values, strict=True)))
    if cover.days:
        _queue_rollups(session, cover, user, short_abandon_sec, legs, calls)
    titles = {
        name: (title, seconds)
        for name, title, seconds in session.execute(
            select(Queue.name, Queue.title, Queue.service_level_sec)
        )
    }
    rows = []
    for name in sorted(legs, key=lambda queue: (queue is None, queue or "")):
        title, sl_sec = titles.get(name or "", (None, None))
        row = QueueFigures(
            name,
            title or name or "",
            SERVICE_LEVEL_SEC if sl_sec is None else int(sl_sec),
            **_whole(legs[name]),
        )
        # Cards that never reached a queue only matter when they were closed or refused.
        if name is not None or row.closed or row.refused or row.offered:
            rows.append(row)
    sums = {key: sum(values.get(key, 0) for values in calls.values()) for key in _QUEUE_SUMS}
    return QueueReport(rows, QueueFigures(None, "", 0, **_whole(sums)))


def _whole(values: dict[str, Any]) -> dict[str, Any]:
    """Counts as ints, the total wait as a float."""
    return {
        key: float(value) if key == "answered_wait_sec" else int(value)
        for key, value in values.items()
    }


def _queue_rollups(
    session: DbSession,
    cover: Coverage,
    user: Any,
    short_abandon_sec: int,
    legs: dict[str | None, dict[str, Any]],
    calls: dict[str | None, dict[str, Any]],
) -> None:
    """The queue report's figures of the rolled-up days, added to `legs` and `calls`."""
    sums = [
        func.coalesce(func.sum(getattr(QueueDay, name)), 0)
        for name in (
            "offered",
            "answered",
            "abandoned",
            "missed",
            "closed",
            "refused",
            "answered_wait_sec",
            "callback_requested",
        )
    ]
    for (
        name,
        leg,
        offered,
        answered,
        abandoned,
        missed,
        closed,
        refused,
        wait,
        callbacks,
    ) in session.execute(
        select(QueueDay.queue, QueueDay.leg, *sums)
        .where(
            cover.rolled(QueueDay.day),
            rows_seen(user, QueueDay.queue, QueueDay.queueless_operator_id),
        )
        .group_by(QueueDay.queue, QueueDay.leg)
    ):
        # Rows of each call once count in the total and the queue rows; rows of legs only
        # in the queue rows (what those add: earlier legs, last legs for whole calls).
        for into in (legs,) if leg else (legs, calls):
            _add(
                into,
                name,
                offered=offered,
                answered=answered,
                abandoned=abandoned,
                missed=missed,
                closed=closed,
                refused=refused,
                answered_wait_sec=wait,
                short_abandoned=0,
                answered_within=0,
                callback_requested=callbacks,
            )
    target = func.coalesce(Queue.service_level_sec, SERVICE_LEVEL_SEC)
    for name, leg, short, within in session.execute(
        select(
            WaitDay.queue,
            WaitDay.leg,
            o.total_of(
                and_(WaitDay.outcome == o.ABANDONED, WaitDay.seconds <= short_abandon_sec),
                WaitDay.calls,
            ),
            o.total_of(
                and_(WaitDay.outcome == o.ANSWERED, WaitDay.seconds <= target), WaitDay.calls
            ),
        )
        .outerjoin(Queue, Queue.name == WaitDay.queue)
        .where(
            cover.rolled(WaitDay.day), rows_seen(user, WaitDay.queue, WaitDay.queueless_operator_id)
        )
        .group_by(WaitDay.queue, WaitDay.leg)
    ):
        for into in (legs,) if leg else (legs, calls):
            _add(into, name, short_abandoned=short, answered_within=within)


# -- first-call resolution --------------------------------------------------------------------


@dataclass(frozen=True)
class FirstCall:
    """First-call resolution of some answered inbound calls, declared and measured."""

    answered: int = 0  # inbound calls answered
    declared: int = 0  # of those, cards the operator marked resolved at first call
    known: int = 0  # of those, from a known number (anonymous callers left out)
    not_again: int = 0  # of the known, whose number did not call again within the window

    def __add__(self, other: FirstCall) -> FirstCall:
        return FirstCall(
            self.answered + other.answered,
            self.declared + other.declared,
            self.known + other.known,
            self.not_again + other.not_again,
        )

    @property
    def declared_rate(self) -> float | None:
        """Cards marked resolved at first call / answered calls × 100."""
        return _share(self.declared, self.answered)

    @property
    def measured_rate(self) -> float | None:
        """Answered calls whose number did not call again / answered calls × 100, both from
        known numbers only."""
        return _share(self.not_again, self.known)


def first_calls(
    session: DbSession, period: Period, user: Any, key: str, repeat_days: int = FCR_REPEAT_DAYS
) -> dict[int, FirstCall]:
    """First-call resolution per `key` ("operator_id" or "category_id" of a card).

    The days whose FCR roll-ups are exact (rollup.first_call_coverage: the day and the days
    its repeat calls may come on rolled up, fresh, counted with this window) are read from
    them, the rest from the cards. A repeat call counts whoever took it and whatever the
    user may see: the caller called again.
    """
    cover = first_call_coverage(session, period, user, repeat_days)
    found: dict[int, FirstCall] = {}
    if cover.stretches:
        # A call near a stretch's end may be repeated after it: the next calls are read past it.
        following = o.next_calls(cover.raw(after=timedelta(days=repeat_days)))
        column = getattr(Call, key)
        stmt = (
            select(column, *o.first_call_counts(following, repeat_days))
            .outerjoin(following, following.c.call_id == Call.id)
            .where(cover.raw(), o.inbound_answered(), column.is_not(None))
            .group_by(column)
        )
        for found_key, *counts in session.execute(_scoped(stmt, user)):
            found[found_key] = found.get(found_key, FirstCall()) + FirstCall(
                *(int(count) for count in counts)
            )
    if cover.days:
        column = getattr(FirstCallDay, key)
        for found_key, *counts in session.execute(
            select(
                column,
                *(
                    func.sum(getattr(FirstCallDay, name))
                    for name in ("answered", "declared", "known", "not_again")
                ),
            )
            .where(
                cover.rolled(FirstCallDay.day),
                column.is_not(None),
                rows_seen(user, FirstCallDay.queue, FirstCallDay.queueless_operator_id),
            )
            .group_by(column)
        ):
            found[found_key] = found.get(found_key, FirstCall()) + FirstCall(
                *(int(count) for count in counts)
            )
    return found


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
    first_call: FirstCall = field(default_factory=FirstCall)

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


def operator_figures(
    session: DbSession,
    period: Period,
    user: Any,
    no_purpose: str,
    repeat_days: int = FCR_REPEAT_DAYS,
) -> list[OperatorFigures]:
    """Answered and missed, talk, hold, after-call work, AHT, purposes and first-call
    resolution per operator.

    Answered: the operator's cards with status answered (inbound answered and outbound
    connected). Missed: calls whose ringing reached the operator's extension
    (`operator_rang` events) and that the operator did not answer, each call once (an
    operator who answered and transferred it, no longer the card's operator, did answer).
    """
    cover = coverage(session, period, user)
    found: dict[int, dict[str, Any]] = {}
    names: dict[int, str] = {}
    purposes: dict[int, dict[str, int]] = {}
    if cover.stretches:
        _operator_cards(session, cover, user, no_purpose, found, names, purposes)
    if cover.days:
        _operator_rollups(session, cover, user, no_purpose, found, names, purposes)
    resolved = first_calls(session, period, user, "operator_id", repeat_days)
    rows = [
        OperatorFigures(
            operator_id,
            names[operator_id],
            answered=int(values.get("answered", 0)),
            missed=int(values.get("missed", 0)),
            talk_sec=float(values.get("talk_sec", 0)),
            hold_sec=float(values.get("hold_sec", 0)),
            after_call_sec=float(values.get("after_call_sec", 0)),
            completed=int(values.get("completed", 0)),
            purposes=purposes.get(operator_id, {}),
            first_call=resolved.get(operator_id, FirstCall()),
        )
        for operator_id, values in found.items()
    ]
    return sorted(rows, key=lambda row: (row.name, row.operator_id))


def _purpose_counts(
    purposes: dict[int, dict[str, int]],
    found: dict[int, dict[str, Any]],
    rows: Any,
    no_purpose: str,
) -> None:
    for operator_id, purpose, count in rows:
        if operator_id in found and count:
            counts = purposes.setdefault(operator_id, {})
            counts[purpose or no_purpose] = counts.get(purpose or no_purpose, 0) + int(count)


def _operator_cards(
    session: DbSession,
    cover: Coverage,
    user: Any,
    no_purpose: str,
    found: dict[int, dict[str, Any]],
    names: dict[int, str],
    purposes: dict[int, dict[str, int]],
) -> None:
    """The efficiency report's figures of the stretches read from the cards."""
    answered = o.answered()
    stmt = (
        select(
            Call.operator_id,
            func.max(User.name),
            o.count_of(answered),
            o.total_of(answered, func.coalesce(Call.talk_sec, 0)),
            o.total_of(answered, func.coalesce(Call.hold_sec, 0)),
            o.total_of(o.saved(), o.after_call_work()),
            o.count_of(o.saved()),
        )
        .join(User, User.id == Call.operator_id)
        .where(cover.raw())
        .group_by(Call.operator_id)
    )
    for operator_id, name, count, talk, hold, after, completed in session.execute(
        calls_scope(stmt, user)
    ):
        names[operator_id] = name
        _add(
            found,
            operator_id,
            answered=count,
            talk_sec=talk,
            hold_sec=hold,
            after_call_sec=after,
            completed=completed,
        )
    extension = CallEvent.data["extension"].as_string()
    rang = (
        select(User.id, func.max(User.name), func.count(distinct(Call.id)))
        .select_from(CallEvent)
        .join(Call, Call.id == CallEvent.call_id)
        .join(User, User.extension == extension)
        # An event never comes before its call: the bound drops nothing and lets the
        # ringing events be read by their time (ix_call_events_rang_at).
        .where(
            CallEvent.kind == TimelineKind.OPERATOR_RANG,
            CallEvent.at >= cover.earliest_raw,
            cover.raw(),
            Call.status != Status.RINGING.value,
            or_(Call.operator_id.is_(None), Call.operator_id != User.id),
            not_(o.answered_by(extension)),
        )
        .group_by(User.id)
    )
    for operator_id, name, missed in session.execute(_scoped(rang, user)):
        names[operator_id] = name
        _add(found, operator_id, missed=missed)
    by_purpose = (
        select(Call.operator_id, func.max(CallPurpose.name), func.count())
        .outerjoin(CallPurpose, CallPurpose.id == Call.purpose_id)
        .where(cover.raw(), answered, Call.operator_id.is_not(None))
        .group_by(Call.operator_id, Call.purpose_id)
    )
    _purpose_counts(purposes, found, session.execute(_scoped(by_purpose, user)), no_purpose)


def _operator_rollups(
    session: DbSession,
    cover: Coverage,
    user: Any,
    no_purpose: str,
    found: dict[int, dict[str, Any]],
    names: dict[int, str],
    purposes: dict[int, dict[str, int]],
) -> None:
    """The efficiency report's figures of the rolled-up days."""
    # One pass over the rows, by operator and purpose: the purposes and, added up, the sums.
    sums = [
        func.sum(getattr(OperatorDay, name))
        for name in ("answered", "talk_sec", "hold_sec", "after_call_sec", "saved")
    ]
    by_purpose = []
    for operator_id, name, purpose, count, talk, hold, after, completed in session.execute(
        select(OperatorDay.operator_id, func.max(User.name), func.max(CallPurpose.name), *sums)
        .join(User, User.id == OperatorDay.operator_id)
        .outerjoin(CallPurpose, CallPurpose.id == OperatorDay.purpose_id)
        .where(
            cover.rolled(OperatorDay.day),
            rows_seen(user, OperatorDay.queue, OperatorDay.operator_id),
        )
        .group_by(OperatorDay.operator_id, OperatorDay.purpose_id)
    ):
        names[operator_id] = name
        _add(
            found,
            operator_id,
            answered=count,
            talk_sec=talk,
            hold_sec=hold,
            after_call_sec=after,
            completed=completed,
        )
        by_purpose.append((operator_id, purpose, count))
    for operator_id, name, missed in session.execute(
        select(User.id, func.max(User.name), func.sum(RangDay.calls))
        .join(User, User.extension == RangDay.extension)
        .where(
            cover.rolled(RangDay.day),
            rows_seen(user, RangDay.queue, RangDay.operator_id),
            or_(RangDay.operator_id.is_(None), RangDay.operator_id != User.id),
        )
        .group_by(User.id)
    ):
        names[operator_id] = name
        _add(found, operator_id, missed=missed)
    _purpose_counts(purposes, found, by_purpose, no_purpose)


def operator_total(rows: Sequence[OperatorFigures], title: str) -> OperatorFigures:
    """All operators added up."""
    purposes: dict[str, int] = {}
    for row in rows:
        for name, count in row.purposes.items():
            purposes[name] = purposes.get(name, 0) + count
    sums = {
        name: sum(getattr(row, name) for row in rows)
        for name in ("answered", "missed", "talk_sec", "hold_sec", "after_call_sec", "completed")
    }
    return OperatorFigures(
        0,
        title,
        **sums,
        purposes=purposes,
        first_call=sum((row.first_call for row in rows), FirstCall()),
    )


# -- categories -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryFigures:
    """One category's row: its cards, how many need a callback, and its count per ISO week."""

    category_id: int
    name: str
    cards: int = 0
    needs_callback: int = 0
    weeks: dict[str, int] = field(default_factory=dict)
    first_call: FirstCall = field(default_factory=FirstCall)

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


def category_figures(
    session: DbSession, period: Period, user: Any, repeat_days: int = FCR_REPEAT_DAYS
) -> list[CategoryFigures]:
    """Cards, the needs-callback share and first-call resolution per category, and each
    category's weekly counts."""
    cover = coverage(session, period, user)
    found: dict[int, dict[str, Any]] = {}
    weekly: dict[tuple[int, str], int] = {}
    if cover.stretches:
        stmt = (
            select(Call.category_id, func.count(), o.count_of(Call.needs_callback.is_(True)))
            .where(cover.raw(), Call.category_id.is_not(None))
            .group_by(Call.category_id)
        )
        for category_id, cards, callbacks in session.execute(_scoped(stmt, user)):
            _add(found, category_id, cards=cards, needs_callback=callbacks)
        offset = period.start.astimezone(period.tz).utcoffset() or timedelta()
        week = week_start(Call.started_at, _zone_name(period.tz), int(offset.total_seconds() // 60))
        by_week = (
            select(Call.category_id, week.label("week"), func.count())
            .where(cover.raw(), Call.category_id.is_not(None))
            .group_by(Call.category_id, "week")
        )
        for category_id, monday, count in session.execute(_scoped(by_week, user)):
            day = monday if isinstance(monday, date) else date.fromisoformat(str(monday))
            key = (category_id, iso_week(day))
            weekly[key] = weekly.get(key, 0) + int(count)
    if cover.days:
        days = and_(
            cover.rolled(CategoryDay.day),
            rows_seen(user, CategoryDay.queue, CategoryDay.queueless_operator_id),
        )
        for category_id, day, cards, callbacks in session.execute(
            select(
                CategoryDay.category_id,
                CategoryDay.day,
                func.sum(CategoryDay.cards),
                func.sum(CategoryDay.needs_callback),
            )
            .where(days)
            .group_by(CategoryDay.category_id, CategoryDay.day)
        ):
            _add(found, category_id, cards=cards, needs_callback=callbacks)
            key = (category_id, iso_week(day))
            weekly[key] = weekly.get(key, 0) + int(cards)
    categories = {
        category.id: category
        for category in session.scalars(
            select(CallCategory).where(CallCategory.id.in_(list(found)))
        )
    }
    weeks = period_weeks(period)
    resolved = first_calls(session, period, user, "category_id", repeat_days)
    rows = [
        CategoryFigures(
            category_id,
            categories[category_id].name,
            int(values["cards"]),
            int(values["needs_callback"]),
            {week: weekly.get((category_id, week), 0) for week in weeks},
            resolved.get(category_id, FirstCall()),
        )
        for category_id, values in found.items()
        if category_id in categories
    ]
    return sorted(rows, key=lambda row: (categories[row.category_id].position, row.name))


def category_total(rows: Sequence[CategoryFigures], title: str) -> CategoryFigures:
    """All categories added up, week by week."""
    weeks: dict[str, int] = {}
    for row in rows:
        for week, count in row.weeks.items():
            weeks[week] = weeks.get(week, 0) + count
    return CategoryFigures(
        0,
        title,
        sum(row.cards for row in rows),
        sum(row.needs_callback for row in rows),
        weeks,
        sum((row.first_call for row in rows), FirstCall()),
    )
