"""What a card counts as in the reports (METRICS.md), as SQL over `calls` and its timeline.

The report queries and the daily roll-ups (rollup.py) both use these, so a figure read from
the roll-ups and the same figure read from the cards are one definition.

A call counts once in the centre's totals, from the caller's view across every queue it
entered (`callers_view`): offered if any queue took it, answered, abandoned or missed by how
its last stint in a queue ended, refused only when no queue ever took it. The queue rows
count every queue a call entered (its legs): a leg ends where the timeline shows the call
moving on to another queue (a `queue_overflow` or `transferred` event with a `to_queue`).
The earlier legs are read from those events (`earlier_legs`), the last one from the card,
starting at its last move (`final_leg`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Subquery,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased

from dialplan.timeline import TimelineKind
from models import Call, CallEvent, Direction, Status
from models.calls import MOVE_EVENTS
from reports.sql import ceil_seconds, seconds_between, within_days

ANSWERED, ABANDONED, MISSED = Status.ANSWERED.value, Status.ABANDONED.value, Status.MISSED.value
#: Left the queue with its callback key and a number (virtual hold): offered, and counted
#: apart, neither answered, abandoned nor missed.
CALLBACK_REQUESTED = Status.CALLBACK_REQUESTED.value


def count_of(condition: ColumnElement[bool]) -> Any:
    """How many rows meet the condition (0, not NULL, when none)."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def total_of(condition: ColumnElement[bool], value: Any) -> Any:
    """The sum of `value` over the rows that meet the condition (0 when none)."""
    return func.coalesce(func.sum(case((condition, value), else_=0)), 0)


def closed() -> ColumnElement[bool]:
    """Arrived while the queue was closed: counted apart, not offered."""
    return func.coalesce(Call.end_reason, "") == "closed_hours"


def refused() -> ColumnElement[bool]:
    """Refused at join (full, or no operator logged in: JOINEMPTY/JOINUNAVAIL): not offered."""
    return func.coalesce(Call.end_reason, "").in_(["queue_full", "no_operator"])


def offered() -> ColumnElement[bool]:
    """Entered a queue and ended answered, abandoned, missed or asking for a callback there."""
    return and_(
        Call.queue_entered_at.is_not(None),
        Call.status.in_([ANSWERED, ABANDONED, MISSED, CALLBACK_REQUESTED]),
        not_(closed()),
        not_(refused()),
    )


def offered_and(status: str) -> ColumnElement[bool]:
    """Offered and ended with this status."""
    return and_(offered(), Call.status == status)


def answered_wait() -> Any:
    """Queue entry to answer, seconds (0 when unknown)."""
    return func.coalesce(Call.wait_sec, 0)


def abandon_seconds() -> Any:
    """Queue entry to the caller's hang-up, seconds (NULL when either is unknown)."""
    return seconds_between(Call.queue_entered_at, Call.ended_at)


def answered() -> ColumnElement[bool]:
    """The operator's calls handled: inbound answered and outbound connected."""
    return Call.status == ANSWERED


def saved() -> ColumnElement[bool]:
    """Answered, and the operator saved the card (after-call work is known)."""
    return and_(answered(), Call.completed_at.is_not(None), Call.ended_at.is_not(None))


def after_call_work() -> Any:
    """Hang-up to the card saved, seconds; a card saved during the call counts 0."""
    gap = seconds_between(Call.ended_at, Call.completed_at)
    return case((gap < 0, 0.0), else_=gap)


def answered_by(extension: Any) -> ColumnElement[bool]:
    """The card's timeline has an answer at this extension: an operator who answered the call
    and then transferred it (the card names the last operator only) did not miss it."""
    answer = aliased(CallEvent)
    return exists().where(
        answer.call_id == Call.id,
        answer.kind == TimelineKind.ANSWERED,
        answer.data["extension"].as_string() == extension,
    )


def queueless_operator() -> Any:
    """The card's operator when it has no queue (whose queues it then belongs to), else NULL."""
    return case((Call.queue.is_(None), Call.operator_id), else_=None)


# -- first-call resolution ----------------------------------------------------------------------


def inbound_answered() -> ColumnElement[bool]:
    """An inbound call an operator answered: what first-call resolution is a share of."""
    return and_(Call.direction == Direction.INBOUND.value, Call.status == ANSWERED)


def known_number() -> ColumnElement[bool]:
    """The caller's number is known (the card store keeps anonymous callers' as NULL)."""
    return func.coalesce(Call.src_number, "") != ""


def next_calls(window: ColumnElement[bool]) -> Subquery:
    """Per inbound card from a known number among the cards `window` (a condition on when
    cards started): when that number next called in among them (NULL: not again there).

    Exact for a card when the window holds every card from it to `days` after it (the
    `called_again` read). One sort of the window's inbound cards by number, not a look-up
    per card: over a year of generated history it took about half the time.
    """
    later = func.lead(Call.started_at).over(
        partition_by=Call.src_number, order_by=(Call.started_at, Call.id)
    )
    return (
        select(Call.id.label("call_id"), later.label("next_at"))
        .where(Call.direction == Direction.INBOUND.value, known_number(), window)
        .subquery("next_calls")
    )


def called_again(following: Subquery, days: int) -> ColumnElement[bool]:
    """The card's number called in again within `days` days after this call started.

    Select from `calls` outer-joined to `following` (next_calls) by card.
    """
    return and_(
        following.c.next_at.is_not(None),
        within_days(Call.started_at, following.c.next_at, literal(days)),
    )


def first_call_counts(following: Subquery, days: int) -> list[Any]:
    """FCR's four aggregates over answered inbound cards joined to `following`: calls,
    declared resolved, from a known number, and of those not called again within `days`."""
    known = known_number()
    return [
        func.count(),
        count_of(Call.resolved_first_call.is_(True)),
        count_of(known),
        count_of(and_(known, not_(called_again(following, days)))),
    ]


# -- legs: each queue a call entered -------------------------------------------------------------

#: QUEUESTATUS values of a queue that refused the caller as they arrived: not offered there.
REFUSED_AT_JOIN = ("JOINEMPTY", "JOINUNAVAIL", "FULL")


@dataclass(frozen=True)
class Leg:
    """A call in one queue as the queue report counts it: whether offered, and how it ended."""

    status: Any
    offered: ColumnElement[bool]
    closed: ColumnElement[bool]
    refused: ColumnElement[bool]
    wait: Any  # entering the queue to the answer, seconds
    abandon_seconds: Any  # entering the queue to the caller's hang-up, seconds

    def ended(self, status: str) -> ColumnElement[bool]:
        """Offered, and ended with this status in this queue."""
        return and_(self.offered, self.status == status)

    def counts(self) -> list[Any]:
        """offered, answered, abandoned, missed, closed, refused, total wait of the answered,
        callbacks requested."""
        return [
            count_of(self.offered),
            count_of(self.ended(ANSWERED)),
            count_of(self.ended(ABANDONED)),
            count_of(self.ended(MISSED)),
            count_of(self.closed),
            count_of(self.refused),
            total_of(self.ended(ANSWERED), self.wait),
            count_of(self.ended(CALLBACK_REQUESTED)),
        ]


def each_call() -> Leg:
    """The card as one call, by the queue it ended in, its wait from its first queue."""
    return Leg(Call.status, offered(), closed(), refused(), answered_wait(), abandon_seconds())


def _moving() -> ColumnElement[bool]:
    """A timeline event that sent the call on to another queue."""
    return and_(
        CallEvent.kind.in_(MOVE_EVENTS),
        func.coalesce(CallEvent.data["to_queue"].as_string(), "") != "",
    )


def _since(since: datetime | None) -> ColumnElement[bool]:
    """Events from `since` on (an event never comes before its call, so no card of a period
    starting then loses one): a recent period's moves read from their own index by time. A
    past day's cards leave it out: their events are found from the cards, not by time."""
    return true() if since is None else CallEvent.at >= since


def last_moves(where: ColumnElement[bool], since: datetime | None) -> Subquery:
    """Per card `where` that moved between queues: when it last moved (its final leg's
    start) and its first answer after that (in its final queue), if any."""
    moved = (
        select(CallEvent.call_id, func.max(CallEvent.at).label("moved_at"))
        .join(Call, Call.id == CallEvent.call_id)
        .where(where, _moving(), _since(since))
        .group_by(CallEvent.call_id)
        .subquery("moved")
    )
    answer = aliased(CallEvent)
    # Grouped, not a scalar subquery: PostgreSQL would run one per use of the column.
    return (
        select(moved.c.call_id, moved.c.moved_at, func.min(answer.at).label("answered_at"))
        .outerjoin(
            answer,
            and_(
                answer.call_id == moved.c.call_id,
                answer.kind == TimelineKind.ANSWERED,
                answer.at >= moved.c.moved_at,
            ),
        )
        .group_by(moved.c.call_id, moved.c.moved_at)
        .subquery("last_moves")
    )


def final_leg(moves: Subquery) -> Leg:
    """The card's last queue, from its last move on (the whole card when it never moved).

    Select from `calls` outer-joined to `moves` (last_moves) by card. A card answered in an
    earlier queue and transferred counts as answered here only when answered again here;
    otherwise the caller hung up before this queue answered: abandoned.
    """
    moved_at = moves.c.moved_at
    answered_here = case(
        (moved_at.is_(None), Call.answered_at),
        else_=func.coalesce(
            moves.c.answered_at, case((Call.answered_at >= moved_at, Call.answered_at))
        ),
    )
    status = case(
        (and_(moved_at.is_not(None), Call.status == ANSWERED, answered_here.is_(None)), ABANDONED),
        else_=Call.status,
    )
    wait = case(
        (moved_at.is_(None), answered_wait()),
        else_=ceil_seconds(seconds_between(moved_at, answered_here)),
    )
    return Leg(
        status,
        offered(),
        closed(),
        refused(),
        wait,
        seconds_between(func.coalesce(moved_at, Call.queue_entered_at), Call.ended_at),
    )


def earlier_legs(where: ColumnElement[bool], since: datetime | None) -> Subquery:
    """The legs before each card's last queue, one row per move: queue, start, refused, answer.

    A leg starts at the move before it (the first at the card's queue entry) and ends at its
    own move; an answer between the two means an operator of that queue took the call.
    """
    prior = func.lag(CallEvent.at).over(
        partition_by=CallEvent.call_id, order_by=(CallEvent.at, CallEvent.id)
    )
    moves = (
        select(
            CallEvent.call_id,
            CallEvent.at,
            CallEvent.kind,
            CallEvent.data["from_queue"].as_string().label("queue"),
            CallEvent.data["queue_status"].as_string().label("queue_status"),
            func.coalesce(prior, Call.queue_entered_at, Call.started_at).label("start"),
        )
        .join(Call, Call.id == CallEvent.call_id)
        .where(where, Call.direction == Direction.INBOUND.value, _moving(), _since(since))
        .subquery("moves")
    )
    answer = aliased(CallEvent)
    # Grouped, not a scalar subquery: PostgreSQL would run one per use of the column.
    return (
        select(
            moves.c.call_id,
            moves.c.queue,
            moves.c.start,
            and_(
                moves.c.kind == TimelineKind.QUEUE_OVERFLOW,
                func.coalesce(moves.c.queue_status, "").in_(REFUSED_AT_JOIN),
            ).label("refused"),
            func.min(answer.at).label("answered_at"),
        )
        .outerjoin(
            answer,
            and_(
                moves.c.kind == TimelineKind.TRANSFERRED,
                answer.call_id == moves.c.call_id,
                answer.kind == TimelineKind.ANSWERED,
                answer.at >= moves.c.start,
                answer.at < moves.c.at,
            ),
        )
        # A transfer from a card with no queue yet (an operator's own call) left no queue.
        .where(func.coalesce(moves.c.queue, "") != "")
        .group_by(
            moves.c.call_id,
            moves.c.at,
            moves.c.queue,
            moves.c.start,
            moves.c.kind,
            moves.c.queue_status,
        )
        .subquery("earlier_legs")
    )


def earlier_leg(legs: Subquery) -> Leg:
    """A leg that ended with a move: answered there, refused at join, or missed (it left)."""
    refused_here = legs.c.refused.is_(True)
    return Leg(
        case((legs.c.answered_at.is_not(None), ANSWERED), else_=MISSED),
        not_(refused_here),
        false(),
        refused_here,
        ceil_seconds(seconds_between(legs.c.start, legs.c.answered_at)),
        cast(null(), Float()),
    )  # nobody hangs up in a queue and moves on


def taken_earlier(where: ColumnElement[bool], since: datetime | None) -> Subquery:
    """Per card `where` with earlier legs: when the last of them that took the call (not
    refused at join) started, and when the last of those answered there started."""
    legs = earlier_legs(where, since)
    taken = not_(func.coalesce(legs.c.refused, False))
    return (
        select(
            legs.c.call_id,
            func.max(case((taken, legs.c.start))).label("taken_at"),
            func.max(case((and_(taken, legs.c.answered_at.is_not(None)), legs.c.start))).label(
                "answered_leg_at"
            ),
        )
        .group_by(legs.c.call_id)
        .subquery("taken_earlier")
    )


def callers_view(taken: Subquery) -> Leg:
    """The card as one call from the caller's view across every queue it entered.

    Select from `calls` joined to `taken` (taken_earlier) by card. Offered when any queue took
    the call; when its own last queue did not (refused at the door, say, after waiting in
    another queue), it ended as its last stint in a queue did: answered there, or missed
    (it moved on). Closed or refused only when no queue ever took it. Its wait runs from its
    first queue, as the card's. A call still going on counts once it has ended, as any card.
    """
    here = offered()
    earlier = and_(taken.c.taken_at.is_not(None), Call.status != Status.RINGING.value)
    status = case(
        (here, Call.status),
        (and_(earlier, taken.c.answered_leg_at == taken.c.taken_at), ANSWERED),
        (earlier, MISSED),
        else_=Call.status,
    )
    return Leg(
        status,
        or_(here, earlier),
        and_(closed(), not_(earlier)),
        and_(refused(), not_(earlier)),
        answered_wait(),
        abandon_seconds(),
    )
