"""Which cards make a callback task, for which number, and when to try again: pure rules.

The sweep (callbacks/sweep.py), the task list and the tests ask these functions; they read
a `CardFacts` (what the sweep selects of a card) and a queue's `QueueCallbacks`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dialplan.hours import check_hours
from dialplan.numbers import callable_number
from dialplan.settings import (
    NEXT_WORKING_DAY,
    RETRY_STEP,
    FlowSettings,
    QueueCallbacks,
    Schedule,
)
from models.callbacks import TaskOutcome, TaskReason
from models.calls import Direction, Status

#: The end reasons of a call that came while the call centre was closed.
OUT_OF_HOURS_REASONS = frozenset({"closed_hours"})
#: Outcomes that close the task; the others count an attempt and schedule the next.
CLOSING_OUTCOMES = frozenset(
    {TaskOutcome.REACHED, TaskOutcome.WRONG_NUMBER, TaskOutcome.DO_NOT_CALL}
)
#: What the operator may record after a call back (got_through and unreachable come by
#: themselves).
RECORDABLE_OUTCOMES = (
    TaskOutcome.REACHED,
    TaskOutcome.NO_ANSWER,
    TaskOutcome.BUSY,
    TaskOutcome.WRONG_NUMBER,
    TaskOutcome.DO_NOT_CALL,
)
#: How far ahead a retry looks for the queue's business hours before giving up on them.
_HOURS_HORIZON = timedelta(days=14)
_HOURS_STEP = timedelta(minutes=5)


@dataclass(frozen=True)
class CardFacts:
    """What the rules read of one ended card."""

    id: int
    direction: str
    status: str
    queue: str | None
    src_number: str | None
    callback_number: str | None
    needs_callback: bool
    end_reason: str | None
    started_at: datetime
    queue_entered_at: datetime | None
    wait_sec: int | None
    duration_sec: int | None


def task_reason(card: CardFacts, policy: QueueCallbacks) -> TaskReason | None:
    """Why this card makes (or joins) a callback task, or None when it makes none."""
    if card.direction != Direction.INBOUND.value:
        return None
    if card.status == Status.CALLBACK_REQUESTED.value:
        return TaskReason.CALLBACK_REQUESTED
    if card.needs_callback:
        # A voicemail is marked by the dialplan; an answered card, by an operator.
        if card.status == Status.ANSWERED.value:
            return TaskReason.MARKED
        return TaskReason.VOICEMAIL
    if card.status == Status.MISSED.value:
        if card.end_reason in OUT_OF_HOURS_REASONS:
            return TaskReason.OUT_OF_HOURS
        return TaskReason.MISSED
    if card.status == Status.ABANDONED.value:
        waited = card.wait_sec if card.queue_entered_at is not None else card.duration_sec
        if waited is not None and waited < policy.short_abandon_sec:
            return None  # a short abandon: a wrong number or a second thought
        return TaskReason.ABANDONED
    return None


def task_number(card: CardFacts) -> str | None:
    """The number to call back: the one the caller confirmed, else theirs; None: anonymous."""
    return callable_number(card.callback_number or card.src_number)


def waiting_since(card: CardFacts) -> datetime:
    """The caller's place: when they joined the queue, else when they called."""
    return card.queue_entered_at or card.started_at


def priority_of(reason: TaskReason) -> int:
    """Smaller goes first: a callback the caller asked for keeps their place in the queue."""
    return 0 if reason is TaskReason.CALLBACK_REQUESTED else 1


def gets_through(card: CardFacts) -> bool:
    """True when this card shows the caller got through on their own (an answered inbound
    call not itself waiting for a callback)."""
    return (
        card.direction == Direction.INBOUND.value
        and card.status == Status.ANSWERED.value
        and not card.needs_callback
    )


def retry_delay(step: str) -> timedelta | None:
    """A retry step's delay ("+15m", "+2h", "+1d"); None for the next working day."""
    if step == NEXT_WORKING_DAY:
        return None
    match = RETRY_STEP.match(step)
    if match is None:
        raise ValueError(f"unknown retry step {step!r}")
    amount, unit = int(match.group(1)), match.group(2)
    return {"m": timedelta(minutes=amount), "h": timedelta(hours=amount)}.get(
        unit, timedelta(days=amount)
    )


def next_attempt(
    policy: QueueCallbacks, attempts: int, after: datetime, hours: Schedule | None
) -> datetime | None:
    """When to call again after `attempts` failed tries, the last at `after`; None: give up.

    The step is the schedule's entry for this attempt (the last one repeats); the moment is
    moved to the queue's next open time when it falls outside its business hours.
    """
    if attempts >= policy.max_attempts:
        return None
    if attempts < 1:
        return next_open(after, hours)
    steps = policy.retry_schedule or ("+1h",)
    delay = retry_delay(steps[min(attempts - 1, len(steps) - 1)])
    if delay is None:
        return next_working_day(after, hours)
    return next_open(after + delay, hours)


def next_open(at: datetime, hours: Schedule | None) -> datetime:
    """`at`, or the first moment after it the schedule is open (any time without one)."""
    if hours is None:
        return at
    moment = at
    while moment < at + _HOURS_HORIZON:
        if check_hours(hours, moment).open:
            return moment
        moment = _on_five(moment + _HOURS_STEP)
    return at  # never open in two weeks: keep the plain delay rather than lose the task


def next_working_day(after: datetime, hours: Schedule | None) -> datetime:
    """The first open moment on a later day than `after` (its zone's midnight, else +1 day)."""
    if hours is None:
        return after + timedelta(days=1)
    local = after.astimezone(hours.zone)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), hours.zone)
    return next_open(midnight, hours)


def _on_five(moment: datetime) -> datetime:
    """The moment rounded down to its 5 minutes (the search steps on whole minutes)."""
    return moment.replace(minute=moment.minute - moment.minute % 5, second=0, microsecond=0)


def hours_for(flow: FlowSettings, queue: str, did: str | None) -> Schedule | None:
    """The business hours a queue's callbacks keep to: its own setting, else the DID's."""
    policy = policy_for(flow, queue)
    name = policy.schedule
    if name is None and did is not None and did in flow.dids:
        name = flow.dids[did].schedule
    return flow.schedules.get(name) if name else None


def policy_for(flow: FlowSettings, queue: str) -> QueueCallbacks:
    """A queue's callback settings (the defaults for a queue the flow does not know)."""
    known = flow.queues.get(queue)
    return known.callbacks if known is not None else QueueCallbacks()


@dataclass(frozen=True)
class AfterOutcome:
    """What an attempt's outcome does to its task: close it (how) or schedule the next."""

    closes_as: TaskOutcome | None
    next_attempt_at: datetime | None


def after_outcome(
    policy: QueueCallbacks,
    outcome: TaskOutcome,
    attempts: int,
    at: datetime,
    hours: Schedule | None,
) -> AfterOutcome:
    """The task's next state once attempt number `attempts` gave `outcome` at `at`."""
    if outcome in CLOSING_OUTCOMES:
        return AfterOutcome(outcome, None)
    due = next_attempt(policy, attempts, at, hours)
    if due is None:
        return AfterOutcome(TaskOutcome.UNREACHABLE, None)
    return AfterOutcome(None, due)


def outcome_of_dial(status: str | None, end_reason: str | None) -> TaskOutcome | None:
    """The outcome an outbound card shows by itself (busy, no answer), or None: ask."""
    if end_reason in ("busy", "congestion") or status == Status.BUSY.value:
        return TaskOutcome.BUSY
    if end_reason == "no_answer":
        return TaskOutcome.NO_ANSWER
    return None
