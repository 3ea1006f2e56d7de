"""The callback task store: make or join a task, take it, hand it over, record an attempt."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from callbacks.rules import AfterOutcome, CardFacts, after_outcome, priority_of, waiting_since
from dialplan.settings import FlowSettings, QueueCallbacks, Schedule
from models.callbacks import CallbackAttempt, CallbackCard, CallbackTask, TaskOutcome, TaskReason
from models.calls import Call
from models.flow import latest_version


@dataclass(frozen=True)
class Joined:
    """A card gathered into a task: the task, and whether this card made it."""

    task: CallbackTask
    made: bool


def open_task(session: Session, queue: str, number: str) -> CallbackTask | None:
    """The open task of this number in this queue (at most one: uq_callback_tasks_open)."""
    return session.scalar(
        select(CallbackTask)
        .where(
            CallbackTask.queue == queue,
            CallbackTask.number == number,
            CallbackTask.closed_at.is_(None),
        )
        .with_for_update()
    )


def gather(
    session: Session,
    card: CardFacts,
    queue: str,
    number: str,
    reason: TaskReason,
    first_due: datetime,
) -> Joined:
    """Make the task for this number and queue, or join the open one; the card joins once."""
    task = open_task(session, queue, number)
    made = task is None
    if task is None:
        task = CallbackTask(
            queue=queue,
            number=number,
            reason=reason.value,
            priority=priority_of(reason),
            waiting_since=waiting_since(card),
            last_call_at=card.started_at,
            lost_calls=1,
            attempts=0,
            next_attempt_at=first_due,
        )
        session.add(task)
        session.flush()
    else:
        task.lost_calls += 1
        task.last_call_at = max(task.last_call_at, card.started_at)
        task.waiting_since = min(task.waiting_since, waiting_since(card))
        task.priority = min(task.priority, priority_of(reason))
    session.add(CallbackCard(call_id=card.id, task_id=task.id))
    return Joined(task, made)


def close(
    session: Session, task: CallbackTask, outcome: TaskOutcome, at: datetime, by: int | None
) -> None:
    """Close a task for good (a later lost call opens a new one)."""
    task.closed_at = at
    task.outcome = outcome.value
    task.closed_by_id = by
    task.next_attempt_at = None


def take(session: Session, task_id: int, operator_id: int, at: datetime) -> bool:
    """Lock an open, untaken task to this operator; False when someone else was first.

    One UPDATE guarded by `taken_by_id IS NULL`: of two operators at once exactly one row
    changes (PostgreSQL re-checks the guard after the first commit).
    """
    taken = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.id == task_id,
            CallbackTask.closed_at.is_(None),
            CallbackTask.taken_by_id.is_(None),
        )
        .values(taken_by_id=operator_id, taken_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def hand_over(session: Session, task: CallbackTask, operator_id: int | None, at: datetime) -> None:
    """A supervisor gives the task to another operator (None: back to everyone)."""
    task.taken_by_id = operator_id
    task.taken_at = at if operator_id is not None else None


def start_attempt(
    session: Session, task: CallbackTask, operator_id: int | None, linkedid: str | None
) -> CallbackAttempt:
    """A call back placed for the task (its outbound card is found by `linkedid`)."""
    attempt = CallbackAttempt(task_id=task.id, operator_id=operator_id, linkedid=linkedid)
    session.add(attempt)
    session.flush()
    return attempt


def record_outcome(
    session: Session,
    task: CallbackTask,
    outcome: TaskOutcome,
    *,
    operator_id: int | None,
    at: datetime,
    policy: QueueCallbacks,
    hours: Schedule | None,
) -> AfterOutcome:
    """The outcome of the task's latest call back: counted, then closed or rescheduled."""
    attempt = session.scalar(
        select(CallbackAttempt)
        .where(CallbackAttempt.task_id == task.id, CallbackAttempt.outcome.is_(None))
        .order_by(CallbackAttempt.id.desc())
        .limit(1)
    )
    if attempt is None:  # a call placed from the operator's own phone: counted all the same
        attempt = CallbackAttempt(task_id=task.id, operator_id=operator_id, started_at=at)
        session.add(attempt)
    attempt.outcome = outcome.value
    attempt.recorded_at = at
    task.attempts += 1
    if task.first_attempt_at is None:
        task.first_attempt_at = attempt.started_at or at
    after = after_outcome(policy, outcome, task.attempts, at, hours)
    if after.closes_as is not None:
        close(session, task, after.closes_as, at, operator_id)
    else:
        task.next_attempt_at = after.next_attempt_at
        task.taken_by_id = None  # the next attempt is anyone's in the queue
        task.taken_at = None
    return after


def published_flow(session: Session) -> FlowSettings:
    """The call flow calls follow now (an empty one before the first publication)."""
    version = latest_version(session)
    if version is None:
        return FlowSettings(default_queue="")
    return FlowSettings.from_document(version.document)


def card_facts(card: Call) -> CardFacts:
    """What the rules read of a card."""
    return CardFacts(
        id=card.id,
        direction=card.direction,
        status=card.status,
        queue=card.queue,
        src_number=card.src_number,
        callback_number=card.callback_number,
        needs_callback=card.needs_callback,
        end_reason=card.end_reason,
        started_at=card.started_at,
        queue_entered_at=card.queue_entered_at,
        wait_sec=card.wait_sec,
        duration_sec=card.duration_sec,
    )
