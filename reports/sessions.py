"""Operator sessions: each operator's day and each queue's staffing, from `operator_states`.

The intervals the floor listener keeps (models/live.py) are cut at the call centre's
midnights and at the period's edges, then summed in SQL per operator, day and state;
docs/metrics.md "Operator sessions" defines every figure. Plain SQLAlchemy, no Flask.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    and_,
    case,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import aliased

from models import User
from models.base import UtcDateTime, utcnow
from models.live import LONG_INTERVAL, AgentState, OperatorState
from models.routing import Queue
from models.visibility import operators_seen, queues_seen
from reports.figures import DbSession, _share
from reports.period import Period
from reports.sql import earlier_of, later_of, seconds_after, seconds_between

#: A ring counts as answered when talking on its call starts before it ends or this many
#: seconds after (the listener closes one and opens the other on the same event).
ANSWER_SLACK_SEC = 1
#: Longer than any ring: Queue() gives up ringing a member after its timeout (seconds).
RING_LIMIT = timedelta(hours=1)
#: An interval longer than this is in ix_operator_states_long (models.live.LONG_INTERVAL).
LONGEST = timedelta(days=1)

_STATE_FIELDS = {
    AgentState.READY.value: "ready_sec",
    AgentState.RINGING.value: "ringing_sec",
    AgentState.TALKING.value: "talk_sec",
    AgentState.HOLD.value: "hold_sec",
    AgentState.WRAPUP.value: "wrapup_sec",
}


@dataclass(frozen=True)
class OperatorDay:
    """One operator's day: seconds in each state, pauses by reason, missed rings."""

    operator_id: int
    name: str
    day: date | None  # None: a total over days
    logged_in_sec: float = 0
    ready_sec: float = 0
    ringing_sec: float = 0
    talk_sec: float = 0
    hold_sec: float = 0
    wrapup_sec: float = 0
    #: Seconds paused per reason ("" when Asterisk gave none).
    pauses: dict[str, float] = field(default_factory=dict)
    unknown_sec: float = 0
    missed_rings: int = 0

    @property
    def paused_sec(self) -> float:
        """Every pause, whatever its reason."""
        return sum(self.pauses.values())

    @property
    def occupancy(self) -> float | None:
        """(talk + hold + wrap-up) / (logged-in − paused) × 100."""
        available = self.logged_in_sec - self.paused_sec
        if available <= 0:
            return None
        return _share(self.talk_sec + self.hold_sec + self.wrapup_sec, available)


@dataclass(frozen=True)
class QueueStaffing:
    """One queue's day: operators' logged-in time summed, and the most logged in at once."""

    queue: str
    title: str
    day: date
    staffed_sec: float = 0
    peak: int = 0


@dataclass(frozen=True)
class SessionsReport:
    """The per-operator-day rows and the per-queue-day rows of a period."""

    operators: list[OperatorDay]
    queues: list[QueueStaffing]


def period_days(period: Period) -> Iterator[tuple[date, datetime, datetime]]:
    """Each day of the period with its UTC start and end (cut to the period's edges)."""
    day = period.first_day
    while day <= period.last_day:
        start = datetime.combine(day, time(), tzinfo=period.tz).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(), tzinfo=period.tz).astimezone(UTC)
        yield day, max(start, period.start), min(end, period.end)
        day += timedelta(days=1)


def _days_table(period: Period) -> Any:
    """The period's days as a small table (day: 1 for the first, start, end): SQLite has
    no VALUES with column names, so a UNION ALL of one-row selects."""
    rows = [
        select(
            literal(number, Integer()).label("day"),
            literal(start, UtcDateTime()).label("day_start"),
            literal(end, UtcDateTime()).label("day_end"),
        )
        for number, (_day, start, end) in enumerate(period_days(period), start=1)
    ]
    return union_all(*rows).subquery("days")


def overlapping(
    session: DbSession, period: Period, now: datetime, where: ColumnElement[bool]
) -> ColumnElement[bool]:
    """The intervals matching `where` that overlap the period (and began before now)."""
    s = OperatorState
    return and_(
        s.started_at < period.end,
        or_(s.ended_at > period.start, s.ended_at.is_(None)),
        s.started_at < literal(now, UtcDateTime()),
        # An interval closed before it began (a clock step) counts nothing, not minus.
        or_(s.ended_at.is_(None), s.ended_at >= s.started_at),
        # What lets the planner read only near the period: ix_operator_states_started from
        # a day before it, ix_operator_states_long for the rest.
        or_(s.started_at >= period.start - LONGEST, text(LONG_INTERVAL[_dialect(session)])),
        where,
    )


def _dialect(session: DbSession) -> str:
    return str(session.get_bind().dialect.name)


def _cut(
    session: DbSession, period: Period, now: datetime, where: ColumnElement[bool]
) -> list[Any]:
    """The intervals matching `where` that overlap the period, cut at each day they cover:
    selects of one row per interval and day (`day`: its number in the period, 1 for the
    first) with `cut_start` and `cut_end` (an interval still going on ends now).

    On PostgreSQL an interval inside one day (nearly all) finds its day by a binary search
    of the days' starts (width_bucket), with no join; only those crossing a midnight or the
    period's edges are joined to the days. SQLite (the demo) joins every interval.
    """
    s = OperatorState
    ends = func.coalesce(s.ended_at, literal(now, UtcDateTime()))
    overlaps = overlapping(session, period, now, where)
    columns = (s.user_id, s.queue, s.state, s.reason)
    candidates = select(*columns, s.started_at, ends.label("ends")).where(overlaps)
    branches = []
    crossing: Any
    if _dialect(session) == "postgresql":
        edges = [start for _day, start, _end in period_days(period)] + [period.end]
        thresholds = literal(edges, ARRAY(UtcDateTime()))
        day = func.width_bucket(s.started_at, thresholds)
        inside = and_(day == func.width_bucket(ends, thresholds), day.between(1, len(edges) - 1))
        branches.append(
            select(
                *columns,
                day.label("day"),
                s.started_at.label("cut_start"),
                ends.label("cut_end"),
            ).where(overlaps, inside)
        )
        # Read once, then joined to the days: left in the join, the planner scanned the
        # table once per day.
        crossing = (
            candidates.where(~inside)
            .cte("crossing")
            .prefix_with("MATERIALIZED", dialect="postgresql")
        )
    else:
        crossing = candidates.subquery("crossing")
    days = _days_table(period)
    branches.append(
        select(
            crossing.c.user_id,
            crossing.c.queue,
            crossing.c.state,
            crossing.c.reason,
            days.c.day,
            later_of(crossing.c.started_at, days.c.day_start).label("cut_start"),
            earlier_of(crossing.c.ends, days.c.day_end).label("cut_end"),
        ).join(
            days,
            and_(crossing.c.started_at < days.c.day_end, crossing.c.ends > days.c.day_start),
        )
    )
    return branches


def _rows(session: DbSession, period: Period, now: datetime, where: Any) -> Any:
    """`_cut`'s rows as one subquery."""
    return union_all(*_cut(session, period, now, where)).subquery("cut")


def _sums(
    session: DbSession, period: Period, now: datetime, where: Any, keys: tuple[str, ...]
) -> Any:
    """Seconds of `_cut`'s rows per `keys` (column names): each branch summed on its own
    (a hash of a few thousand groups, not a sort of every interval), then added up."""
    summed = []
    for branch in _cut(session, period, now, where):
        part = branch.subquery()
        summed.append(
            select(
                *(part.c[key] for key in keys),
                func.sum(seconds_between(part.c.cut_start, part.c.cut_end)).label("seconds"),
            ).group_by(*(part.c[key] for key in keys))
        )
    both = union_all(*summed).subquery()
    stmt = select(*(both.c[key] for key in keys), func.sum(both.c.seconds)).group_by(
        *(both.c[key] for key in keys)
    )
    return session.execute(stmt)


def _state_sums(session: DbSession, period: Period, now: datetime, where: Any) -> Any:
    return _sums(
        session,
        period,
        now,
        and_(OperatorState.queue.is_(None), where),
        ("user_id", "day", "state", "reason"),
    )


def _logged_in(session: DbSession, period: Period, now: datetime, where: Any) -> Any:
    """Per operator and day, the union of their queues' logged_in intervals: in start
    order, each interval adds only what lies after every earlier one's end."""
    cut = _rows(
        session,
        period,
        now,
        and_(
            OperatorState.queue.is_not(None),
            OperatorState.state == AgentState.LOGGED_IN.value,
            where,
        ),
    )
    reached = (
        func.max(cut.c.cut_end)
        .over(
            partition_by=(cut.c.user_id, cut.c.day),
            order_by=(cut.c.cut_start, cut.c.cut_end),
            rows=(None, -1),
        )
        .label("reached")
    )
    ordered = select(cut.c.user_id, cut.c.day, cut.c.cut_start, cut.c.cut_end, reached).subquery()
    beyond = seconds_between(
        later_of(ordered.c.cut_start, func.coalesce(ordered.c.reached, ordered.c.cut_start)),
        ordered.c.cut_end,
    )
    stmt = select(
        ordered.c.user_id, ordered.c.day, func.sum(case((beyond > 0, beyond), else_=0))
    ).group_by(ordered.c.user_id, ordered.c.day)
    return session.execute(stmt)


def _missed_rings(session: DbSession, period: Period, where: Any) -> Any:
    """Per operator and day (of the ring's start): ended rings not followed by talking on
    the same call."""
    ring, talk = OperatorState, aliased(OperatorState)
    days = _days_table(period)
    answered = exists().where(
        talk.user_id == ring.user_id,
        talk.queue.is_(None),
        talk.state == AgentState.TALKING.value,
        talk.linkedid == ring.linkedid,
        talk.started_at >= ring.started_at,
        talk.started_at <= seconds_after(ring.ended_at, literal(ANSWER_SLACK_SEC)),
        # Bounds the planner can read off ix_operator_states_started (a ring that began
        # in the period is answered within the hour, or not at all).
        talk.started_at >= period.start,
        talk.started_at < period.end + RING_LIMIT,
    )
    stmt = (
        select(ring.user_id, days.c.day, func.count())
        .join(
            days,
            and_(ring.started_at >= days.c.day_start, ring.started_at < days.c.day_end),
        )
        .where(
            ring.started_at >= period.start,
            ring.started_at < period.end,
            ring.queue.is_(None),
            ring.state == AgentState.RINGING.value,
            ring.ended_at.is_not(None),
            ~answered,
            where,
        )
        .group_by(ring.user_id, days.c.day)
    )
    return session.execute(stmt)


def _unknown(session: DbSession, period: Period, now: datetime, where: Any) -> Any:
    """Per operator and day: from the end of a state interval closed by a gap to the start
    of the operator's next state interval (now, while none has started)."""
    lost, after = OperatorState, aliased(OperatorState)
    resumed = (
        select(func.min(after.started_at))
        .where(
            after.user_id == lost.user_id,
            after.queue.is_(None),
            after.started_at >= lost.ended_at,
        )
        .scalar_subquery()
    )
    spans = (
        select(
            lost.user_id,
            lost.ended_at.label("unknown_from"),
            func.coalesce(resumed, literal(now, UtcDateTime())).label("unknown_to"),
        )
        .where(
            lost.gap,  # ix_operator_states_gap: gaps are few
            lost.queue.is_(None),
            lost.ended_at.is_not(None),
            lost.ended_at < period.end,
            where,
        )
        # Each gap's next interval looked up once, not once per day of the period.
        .cte("spans")
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    days = _days_table(period)
    start = later_of(spans.c.unknown_from, days.c.day_start)
    end = earlier_of(spans.c.unknown_to, days.c.day_end)
    stmt = (
        select(spans.c.user_id, days.c.day, func.sum(seconds_between(start, end)))
        .join(
            days,
            and_(
                spans.c.unknown_from < days.c.day_end,
                spans.c.unknown_to > days.c.day_start,
            ),
        )
        .where(spans.c.unknown_to > period.start)
        .group_by(spans.c.user_id, days.c.day)
    )
    return session.execute(stmt)


def operator_days(
    session: DbSession, period: Period, where: Any, now: datetime | None = None
) -> list[OperatorDay]:
    """Every operator-day of the period with recorded time, for the operators `where`
    (a condition on OperatorState.user_id) selects; by name, then day."""
    now = now or utcnow()
    known = and_(OperatorState.user_id.is_not(None), where)
    found: dict[tuple[int, int], dict[str, Any]] = {}

    def row(user_id: int, day: int) -> dict[str, Any]:
        return found.setdefault((user_id, int(day)), {"pauses": {}})

    for user_id, day, state, reason, seconds in _state_sums(session, period, now, known):
        values = row(user_id, day)
        if state == AgentState.PAUSED.value:
            pauses = values["pauses"]
            pauses[reason or ""] = pauses.get(reason or "", 0.0) + float(seconds or 0)
        elif state in _STATE_FIELDS:
            name = _STATE_FIELDS[state]
            values[name] = values.get(name, 0.0) + float(seconds or 0)
    for user_id, day, seconds in _logged_in(session, period, now, known):
        row(user_id, day)["logged_in_sec"] = float(seconds or 0)
    for user_id, day, count in _missed_rings(session, period, known):
        row(user_id, day)["missed_rings"] = int(count)
    for user_id, day, seconds in _unknown(session, period, now, known):
        row(user_id, day)["unknown_sec"] = float(seconds or 0)
    ids = {user_id for user_id, _day in found}
    names = (
        {
            key: name
            for key, name in session.execute(select(User.id, User.name).where(User.id.in_(ids)))
        }
        if ids
        else {}
    )
    days = [day for day, _start, _end in period_days(period)]
    rows = [
        OperatorDay(user_id, names.get(user_id, str(user_id)), days[day - 1], **values)
        for (user_id, day), values in found.items()
    ]
    return sorted(rows, key=lambda item: (item.name, item.operator_id, item.day))


def queue_days(
    session: DbSession, period: Period, where: Any, now: datetime | None = None
) -> list[QueueStaffing]:
    """Staffed time and the peak of operators logged in, per queue (`where`: a condition on
    OperatorState.queue) and day; by queue title, then day."""
    now = now or utcnow()
    logged_in = and_(
        OperatorState.queue.is_not(None),
        OperatorState.state == AgentState.LOGGED_IN.value,
        where,
    )
    staffed = {
        (queue, int(day)): float(seconds or 0)
        for queue, day, seconds in _sums(session, period, now, logged_in, ("queue", "day"))
    }
    cut = _rows(session, period, now, logged_in)
    # The peak: +1 at each start, −1 at each end (ends first at one moment), a running sum.
    steps = union_all(
        select(cut.c.queue, cut.c.day, cut.c.cut_start.label("at"), literal(1).label("step")),
        select(cut.c.queue, cut.c.day, cut.c.cut_end.label("at"), literal(-1).label("step")),
    ).subquery()
    running = select(
        steps.c.queue,
        steps.c.day,
        func.sum(steps.c.step)
        .over(
            partition_by=(steps.c.queue, steps.c.day),
            order_by=(steps.c.at, steps.c.step),
            rows=(None, 0),
        )
        .label("logged_in"),
    ).subquery()
    peaks = {
        (queue, int(day)): int(peak or 0)
        for queue, day, peak in session.execute(
            select(running.c.queue, running.c.day, func.max(running.c.logged_in)).group_by(
                running.c.queue, running.c.day
            )
        )
    }
    names = {queue for queue, _day in staffed}
    titles = (
        {
            name: title
            for name, title in session.execute(
                select(Queue.name, Queue.title).where(Queue.name.in_(names))
            )
        }
        if names
        else {}
    )
    days = [day for day, _start, _end in period_days(period)]
    rows = [
        QueueStaffing(
            queue,
            titles.get(queue) or queue,
            days[day - 1],
            staffed_sec=seconds,
            peak=peaks.get((queue, day), 0),
        )
        for (queue, day), seconds in staffed.items()
    ]
    return sorted(rows, key=lambda item: (item.title, item.queue, item.day))


def operator_total(rows: Sequence[OperatorDay], name: str) -> OperatorDay:
    """Every row added up (occupancy from the sums, not an average of the rows)."""
    pauses: dict[str, float] = {}
    for row in rows:
        for reason, seconds in row.pauses.items():
            pauses[reason] = pauses.get(reason, 0.0) + seconds
    return OperatorDay(
        0,
        name,
        None,
        logged_in_sec=sum(row.logged_in_sec for row in rows),
        ready_sec=sum(row.ready_sec for row in rows),
        ringing_sec=sum(row.ringing_sec for row in rows),
        talk_sec=sum(row.talk_sec for row in rows),
        hold_sec=sum(row.hold_sec for row in rows),
        wrapup_sec=sum(row.wrapup_sec for row in rows),
        pauses=pauses,
        unknown_sec=sum(row.unknown_sec for row in rows),
        missed_rings=sum(row.missed_rings for row in rows),
    )


def _without_jit(session: DbSession) -> None:
    """PostgreSQL: no JIT for the rest of this transaction. The planner cannot know how few
    intervals cross a midnight, so over a year's table its estimate passes jit_above_cost,
    and compiling the plan (most of a second, docs/benchmarks.md) costs more than running it."""
    if _dialect(session) == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def sessions_report(
    session: DbSession, period: Period, reader: Any, now: datetime | None = None
) -> SessionsReport:
    """The operator sessions report as `reader` may see it (models/visibility.py): an admin
    every operator and queue, a supervisor the operators and queues they oversee."""
    _without_jit(session)
    return SessionsReport(
        operator_days(session, period, operators_seen(reader, OperatorState.user_id), now),
        queue_days(session, period, queues_seen(reader, OperatorState.queue), now),
    )


def own_day(
    session: DbSession, operator_id: int, period: Period, now: datetime | None = None
) -> OperatorDay | None:
    """One operator's own figures over `period` (the workspace's "Your day"), None when
    nothing is recorded."""
    _without_jit(session)
    rows = operator_days(session, period, OperatorState.user_id == operator_id, now)
    return rows[0] if rows else None


__all__ = [
    "OperatorDay",
    "QueueStaffing",
    "SessionsReport",
    "operator_days",
    "operator_total",
    "overlapping",
    "own_day",
    "period_days",
    "queue_days",
    "sessions_report",
]
