"""Daily roll-ups (models/reports.py): rolling a day up, and which part of a period they cover.

A report reads the days that are rolled up and not stale from the roll-ups, and the rest of
its period (today, a day edited since, a day never rolled up) from the cards; both through
the same definitions (outcomes.py), so the figures are those of the cards alone.

Freshness: `callcards reports rollup` rolls up every day over for two days (SETTLED_DAYS)
that is missing or stale (run it nightly; it is quick once the history is rolled up).
Database triggers mark a day stale whenever one of its cards (or an event a report reads:
ringing, answered, an overflow, a transfer) changes, so an edited, late or rebuilt card shows
at once; cards of the last two days are never in a rolled-up day, so the
call path's writes skip the triggers. Rolling up a day first locks its `report_days` row
and only then reads the cards: a card written meanwhile waits for the lock and marks the day
stale again after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    join,
    literal,
    not_,
    null,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import FCR_REPEAT_DAYS
from dialplan.timeline import TimelineKind
from models import (
    Call,
    CallEvent,
    CategoryDay,
    Direction,
    FirstCallDay,
    OperatorDay,
    Queue,
    QueueDay,
    RangDay,
    ReportDay,
    Status,
    WaitDay,
    utcnow,
)
from models.reports import SETTLED_DAYS, WAIT_CAP_SEC, fcr_span_days
from models.session import transaction
from models.visibility import report_reader
from reports import outcomes as o
from reports.period import Period
from reports.sql import ceil_seconds

#: Longer waits share one bucket; no threshold the forms allow reaches it.
_LONGER = WAIT_CAP_SEC + 1


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """A local day as UTC moments: its midnight (inclusive) and the next one (exclusive)."""
    return (
        datetime.combine(day, time(), tz).astimezone(UTC),
        datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC),
    )


def _runs(days: Sequence[date]) -> list[tuple[date, date]]:
    """Consecutive days gathered as (first, last) runs."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(first, last) for first, last in runs]


@dataclass(frozen=True)
class Coverage:
    """A period as runs of rolled-up days and the stretches left to read from the cards."""

    days: list[tuple[date, date]]
    stretches: list[tuple[datetime, datetime]]  # [start, end), UTC

    def rolled(self, day: Any) -> ColumnElement[bool]:
        """Roll-up rows of the covered days."""
        return or_(false(), *(and_(day >= first, day <= last) for first, last in self.days))

    def raw(
        self, started_at: Any = Call.started_at, after: timedelta = timedelta()
    ) -> ColumnElement[bool]:
        """Cards of the stretches the roll-ups do not cover (each stretch `after` longer)."""
        return or_(
            false(),
            *(and_(started_at >= start, started_at < end + after) for start, end in self.stretches),
        )

    @property
    def earliest_raw(self) -> datetime | None:
        """The start of the first stretch read from the cards."""
        return self.stretches[0][0] if self.stretches else None


def coverage(session: Any, period: Period, user: Any, thresholds: Sequence[int] = ()) -> Coverage:
    """Which days of the period the roll-ups give exactly, for this user and thresholds."""
    if report_reader(user) is None or any(not 0 <= value <= WAIT_CAP_SEC for value in thresholds):
        # The roll-ups hold no scope but queues and operators.
        return _covering(period, [])
    rows = session.execute(
        select(ReportDay.day, ReportDay.starts_at, ReportDay.ends_at)
        .where(
            ReportDay.stale.is_(False),
            ReportDay.starts_at >= period.start,
            ReportDay.ends_at <= period.end,
        )
        .order_by(ReportDay.day)
    )
    # A day rolled up under another time zone has other bounds: read from the cards.
    return _covering(
        period, [day for day, start, end in rows if (start, end) == day_bounds(day, period.tz)]
    )


def first_call_coverage(session: Any, period: Period, user: Any, repeat_days: int) -> Coverage:
    """Which days of the period the first-call roll-ups give exactly.

    A day's FCR rows depend on the calls of the fcr_span_days after it too: they are read
    only when the day and every one of those is rolled up and fresh, and the rows were
    counted with this window after the last of those days was rolled up (rolling a day up
    recounts the days before it, `roll_up_day`). Any other day is read from the cards.
    """
    if report_reader(user) is None:
        return _covering(period, [])
    span = fcr_span_days(repeat_days)
    days = {
        day: (refreshed, fcr_days, fcr_at)
        for day, start, end, refreshed, fcr_days, fcr_at in session.execute(
            select(
                ReportDay.day,
                ReportDay.starts_at,
                ReportDay.ends_at,
                ReportDay.refreshed_at,
                ReportDay.fcr_repeat_days,
                ReportDay.fcr_at,
            ).where(
                ReportDay.stale.is_(False),
                ReportDay.starts_at >= period.start,
                ReportDay.starts_at < period.end + timedelta(days=span + 1),
            )
        )
        if (start, end) == day_bounds(day, period.tz) and refreshed is not None
    }

    def exact(day: date) -> bool:
        _refreshed, fcr_days, fcr_at = days[day]
        if fcr_days != repeat_days or fcr_at is None or day_bounds(day, period.tz)[1] > period.end:
            return False
        after = [day + timedelta(days=offset) for offset in range(span + 1)]
        return all(later in days and days[later][0] <= fcr_at for later in after)

    return _covering(period, [day for day in sorted(days) if exact(day)])


def _covering(period: Period, fresh: Sequence[date]) -> Coverage:
    """The period as the runs of these days and the stretches between them."""
    if not fresh:
        return Coverage([], [(period.start, period.end)])
    stretches, moment = [], period.start
    for first, last in _runs(fresh):
        start, end = day_bounds(first, period.tz)[0], day_bounds(last, period.tz)[1]
        if moment < start:
            stretches.append((moment, start))
        moment = end
    if moment < period.end:
        stretches.append((moment, period.end))
    return Coverage(_runs(fresh), stretches)


# -- what a day's rows hold ---------------------------------------------------------------------


def _inbound(where: ColumnElement[bool]) -> ColumnElement[bool]:
    return and_(where, Call.direction == Direction.INBOUND.value)


def _bucket(seconds: Any) -> Any:
    """Whole seconds, the longest waits in one bucket past the cap."""
    return case((seconds > WAIT_CAP_SEC, _LONGER), else_=seconds)


def _queue_rows(
    leg: bool,
    source: Any,
    cards: ColumnElement[bool],
    queue: Any,
    operator: Any,
    sums: Sequence[tuple[o.Leg, int]],
) -> Iterator[tuple[type[Any], Select[Any]]]:
    """QueueDay and WaitDay rows of `source`: the legs in `sums`, each added (1) or taken
    away (-1)."""
    keys = [queue] if operator is None else [queue, operator]
    columns = [queue, cast(null(), Integer()) if operator is None else operator, literal(leg)]
    signed = [[sign * value for value in counted.counts()] for counted, sign in sums]
    yield (
        QueueDay,
        (
            select(
                *columns, *[sum(parts[1:], start=parts[0]) for parts in zip(*signed, strict=True)]
            )
            .select_from(source)
            .where(cards)
            .group_by(*keys)
        ),
    )
    for counted, sign in sums:
        for outcome, seconds in (
            (o.ANSWERED, counted.wait),
            (o.ABANDONED, ceil_seconds(counted.abandon_seconds)),
        ):
            bucket = _bucket(seconds)
            yield (
                WaitDay,
                (
                    select(*columns, literal(outcome), bucket, sign * func.count())
                    .select_from(source)
                    .where(cards, counted.ended(outcome))
                    .group_by(*keys, bucket)
                ),
            )


def day_rows(where: ColumnElement[bool]) -> Iterator[tuple[type[Any], Select[Any]]]:
    """Each roll-up table with the select of its rows (less the day) for the cards `where`.

    QueueDay and WaitDay: each call once from the caller's view (`leg` false: the total), and
    what the queue rows add to that (`leg` true): for a call that moved, its last leg in place
    of the caller's view (counts taken away and added), and its earlier legs.
    """
    queueless = o.queueless_operator()
    moves = o.last_moves(where, None)
    earlier = o.earlier_legs(where, None)
    yield from _queue_rows(
        False, Call, _inbound(where), Call.queue, queueless, [(o.each_call(), 1)]
    )
    yield from _queue_rows(
        True,
        join(Call, moves, moves.c.call_id == Call.id),
        _inbound(where),
        Call.queue,
        queueless,
        [(o.final_leg(moves), 1), (o.each_call(), -1)],
    )
    # A call with earlier legs counts in the total from the caller's view (leg false), and
    # the queue rows take that back for the card as a whole call (leg true).
    taken = o.taken_earlier(where, None)
    view = join(Call, taken, taken.c.call_id == Call.id)
    yield from _queue_rows(
        False,
        view,
        _inbound(where),
        Call.queue,
        queueless,
        [(o.callers_view(taken), 1), (o.each_call(), -1)],
    )
    yield from _queue_rows(
        True,
        view,
        _inbound(where),
        Call.queue,
        queueless,
        [(o.each_call(), 1), (o.callers_view(taken), -1)],
    )
    # Earlier legs are always in a queue, never a queueless operator's.
    yield from _queue_rows(
        True, earlier, true(), earlier.c.queue, None, [(o.earlier_leg(earlier), 1)]
    )
    yield (
        OperatorDay,
        (
            select(
                Call.queue,
                Call.operator_id,
                Call.purpose_id,
                func.count(),
                o.count_of(o.answered()),
                o.total_of(o.answered(), func.coalesce(Call.talk_sec, 0)),
                o.total_of(o.answered(), func.coalesce(Call.hold_sec, 0)),
                o.total_of(o.saved(), o.after_call_work()),
                o.count_of(o.saved()),
            )
            .where(where, Call.operator_id.is_not(None))
            .group_by(Call.queue, Call.operator_id, Call.purpose_id)
        ),
    )
    extension = CallEvent.data["extension"].as_string()
    yield (
        RangDay,
        (
            select(Call.queue, Call.operator_id, extension, func.count(func.distinct(Call.id)))
            .select_from(CallEvent)
            .join(Call, Call.id == CallEvent.call_id)
            .where(
                where,
                CallEvent.kind == TimelineKind.OPERATOR_RANG,
                Call.status != Status.RINGING.value,
                not_(o.answered_by(extension)),
            )
            .group_by(Call.queue, Call.operator_id, extension)
        ),
    )
    yield (
        CategoryDay,
        (
            select(
                Call.queue,
                queueless,
                Call.category_id,
                func.count(),
                o.count_of(Call.needs_callback.is_(True)),
            )
            .where(where, Call.category_id.is_not(None))
            .group_by(Call.queue, queueless, Call.category_id)
        ),
    )


def first_call_rows(
    cards: ColumnElement[bool], window: ColumnElement[bool], repeat_days: int
) -> Iterator[Select[Any]]:
    """FirstCallDay's rows (less the day) of the answered inbound cards `cards`, their repeat
    calls looked for among the cards `window` (from the first of `cards` to `repeat_days`
    after the last): one set per operator (category NULL), one per category (operator NULL).

    Two small sets, not one per operator and category: a year's report sums a few times
    fewer rows.
    """
    following = o.next_calls(window)
    queueless = o.queueless_operator()
    nothing = cast(null(), Integer())
    for key, columns in (
        (Call.operator_id, (Call.operator_id, nothing)),
        (Call.category_id, (nothing, Call.category_id)),
    ):
        keys = [Call.queue, queueless, key]
        yield (
            select(Call.queue, queueless, *columns, *o.first_call_counts(following, repeat_days))
            .outerjoin(following, following.c.call_id == Call.id)
            .where(cards, o.inbound_answered(), key.is_not(None))
            .group_by(*keys)
        )


_FIRST_CALL_COLUMNS = (
    "queue",
    "queueless_operator_id",
    "operator_id",
    "category_id",
    "answered",
    "declared",
    "known",
    "not_again",
)

_COLUMNS: dict[type[Any], tuple[str, ...]] = {
    QueueDay: (
        "queue",
        "queueless_operator_id",
        "leg",
        "offered",
        "answered",
        "abandoned",
        "missed",
        "closed",
        "refused",
        "answered_wait_sec",
        "callback_requested",
    ),
    WaitDay: ("queue", "queueless_operator_id", "leg", "outcome", "seconds", "calls"),
    OperatorDay: (
        "queue",
        "operator_id",
        "purpose_id",
        "cards",
        "answered",
        "talk_sec",
        "hold_sec",
        "after_call_sec",
        "saved",
    ),
    RangDay: ("queue", "operator_id", "extension", "calls"),
    CategoryDay: ("queue", "queueless_operator_id", "category_id", "cards", "needs_callback"),
}


# -- rolling up -----------------------------------------------------------------------------


def settled(end: datetime) -> bool:
    """True when a day ending then is over long enough to be rolled up (SETTLED_DAYS, and an
    hour more for a clock here ahead of the database's)."""
    return end <= utcnow() - timedelta(days=SETTLED_DAYS, hours=1)


def roll_up_day(
    sessions: sessionmaker[Session],
    day: date,
    tz: tzinfo,
    repeat_days: int = FCR_REPEAT_DAYS,
    first_calls: bool = True,
) -> None:
    """Rewrite one local day's roll-up rows from its cards and mark the day fresh; with
    `first_calls`, recount the FCR rows of the day and of the rolled-up days whose repeat
    calls it may hold (the fcr_span_days before it)."""
    start, end = day_bounds(day, tz)
    if not settled(end):
        # The triggers leave recent cards alone: such a day's roll-up would not be kept fresh.
        raise ValueError(f"{day} is too recent to roll up")
    try:
        with transaction(sessions) as session:
            if session.get(ReportDay, day) is None:
                # Committed on its own first, so the triggers see the day from now on.
                session.add(ReportDay(day=day, starts_at=start, ends_at=end, stale=True))
    except IntegrityError:
        pass  # another roll-up added it meanwhile
    with transaction(sessions) as session:
        now = utcnow()
        # The row lock first: a card written from now on waits, then marks the day stale.
        session.execute(
            update(ReportDay)
            .where(ReportDay.day == day)
            .values(stale=False, refreshed_at=now, starts_at=start, ends_at=end)
        )
        in_day = and_(Call.started_at >= start, Call.started_at < end)
        for table in _COLUMNS:
            session.execute(delete(table).where(table.day == day))
        for table, rows in day_rows(in_day):
            dated = rows.add_columns(literal(day).label("day"))
            session.execute(insert(table).from_select([*_COLUMNS[table], "day"], dated))
        if first_calls:
            for earlier in _first_call_days(session, [day], tz, repeat_days):
                roll_up_first_calls(session, earlier, tz, repeat_days, now)


def _first_call_days(
    session: Any, rolled: Sequence[date], tz: tzinfo, repeat_days: int
) -> list[date]:
    """The rolled-up days whose FCR rows may read calls of the `rolled` days."""
    span = fcr_span_days(repeat_days)
    wanted = {day - timedelta(days=back) for day in rolled for back in range(span + 1)}
    return sorted(
        day
        for day, start, end in session.execute(
            select(ReportDay.day, ReportDay.starts_at, ReportDay.ends_at).where(
                ReportDay.day.in_(sorted(wanted))
            )
        )
        if (start, end) == day_bounds(day, tz)
    )


def roll_up_first_calls(
    session: Any, day: date, tz: tzinfo, repeat_days: int, at: datetime
) -> None:
    """Recount one rolled-up day's FCR rows with this window, as of `at`."""
    start, end = day_bounds(day, tz)
    session.execute(delete(FirstCallDay).where(FirstCallDay.day == day))
    for rows in first_call_rows(
        and_(Call.started_at >= start, Call.started_at < end),
        and_(Call.started_at >= start, Call.started_at < end + timedelta(days=repeat_days)),
        repeat_days,
    ):
        dated = rows.add_columns(literal(day).label("day"))
        session.execute(insert(FirstCallDay).from_select([*_FIRST_CALL_COLUMNS, "day"], dated))
    session.execute(
        update(ReportDay).where(ReportDay.day == day).values(fcr_repeat_days=repeat_days, fcr_at=at)
    )


def days_to_roll_up(session: Any, tz: tzinfo, today: date) -> list[date]:
    """Settled days with cards whose roll-up is missing, stale or made under another zone."""
    first = session.scalar(select(func.min(Call.started_at)))
    if first is None:
        return []
    known = {
        day: (start, end)
        for day, start, end, stale in session.execute(
            select(ReportDay.day, ReportDay.starts_at, ReportDay.ends_at, ReportDay.stale)
        )
        if not stale
    }
    day, days = first.astimezone(tz).date(), []
    while day < today and settled(day_bounds(day, tz)[1]):
        if known.get(day) != day_bounds(day, tz):
            days.append(day)
        day += timedelta(days=1)
    return days


def roll_up(
    sessions: sessionmaker[Session],
    tz: tzinfo,
    today: date,
    progress: Callable[[date], None] | None = None,
    repeat_days: int = FCR_REPEAT_DAYS,
) -> int:
    """Roll up every past day that needs it; how many were.

    The FCR rows are recounted once at the end, for every rolled-up day whose repeat calls
    the days rolled up may hold (not once per day rolled: the window's length times the
    work), and for the days counted with another window."""
    with sessions() as session:
        days = days_to_roll_up(session, tz, today)
    for day in days:
        roll_up_day(sessions, day, tz, repeat_days, first_calls=False)
        if progress is not None:
            progress(day)
    with sessions() as session:
        recount = set(_first_call_days(session, days, tz, repeat_days) if days else [])
        # Days counted with another window (CALLCARDS_FCR_REPEAT_DAYS changed), or never.
        recount.update(
            day
            for day, start, end in session.execute(
                select(ReportDay.day, ReportDay.starts_at, ReportDay.ends_at).where(
                    ReportDay.stale.is_(False),
                    or_(
                        ReportDay.fcr_repeat_days.is_(None),
                        ReportDay.fcr_repeat_days != repeat_days,
                    ),
                )
            )
            if (start, end) == day_bounds(day, tz)
        )
    for day in sorted(recount):
        with transaction(sessions) as session:
            roll_up_first_calls(session, day, tz, repeat_days, utcnow())
    return len(days)


def service_levels(session: Any) -> list[int]:
    """Every queue's service-level T (the roll-ups hold waits up to WAIT_CAP_SEC)."""
    return [
        int(value)
        for value in session.scalars(select(Queue.service_level_sec))
        if value is not None
    ]
