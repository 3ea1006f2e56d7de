"""What a card counts as in the reports (METRICS.md), as SQL over `calls`.

The report queries and the daily roll-ups (rollup.py) both use these, so a figure read from
the roll-ups and the same figure read from the cards are one definition.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, not_

from models import Call, Status
from webadmin.reports.sql import seconds_between

ANSWERED, ABANDONED, MISSED = Status.ANSWERED.value, Status.ABANDONED.value, Status.MISSED.value


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
    """Entered a queue and ended answered, abandoned or missed there."""
    return and_(Call.queue_entered_at.is_not(None),
                Call.status.in_([ANSWERED, ABANDONED, MISSED]), not_(closed()), not_(refused()))


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


def queueless_operator() -> Any:
    """The card's operator when it has no queue (whose queues it then belongs to), else NULL."""
    return case((Call.queue.is_(None), Call.operator_id), else_=None)
