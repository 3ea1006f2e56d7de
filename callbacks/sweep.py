"""The sweep: lost cards gathered into callback tasks, tasks closed when the caller got through.

The cards are the source of truth: a sweep reads the ended cards of the last days that no
task holds yet, so a database outage only delays the tasks, and a second sweep makes
nothing twice (each card joins one task once: `callback_cards`' key). `callcards agi` sweeps
every CALLCARDS_CALLBACK_EVERY seconds off the event loop, one instance at a time (a
PostgreSQL advisory lock); `callcards callbacks` sweeps once (the demo, SQLite).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from callbacks.rules import (
    hours_for,
    next_open,
    outcome_of_dial,
    policy_for,
    task_number,
    task_reason,
)
from callbacks.tasks import card_facts, close, gather, published_flow, record_outcome
from callcards.reconcile import one_instance
from dialplan.settings import FlowSettings
from models import (
    Call,
    CallbackAttempt,
    CallbackCard,
    CallbackTask,
    Direction,
    Status,
    TaskOutcome,
    User,
    utcnow,
)

log = logging.getLogger(__name__)

#: How far back a sweep looks for lost cards (a sweep missed for days still finds them).
LOOKBACK = timedelta(days=7)
# pg_try_advisory_lock's key: one sweep at a time across every `callcards agi`.
_LOCK_KEY = 0x63616C6C  # "call"
_LOST = (Status.MISSED.value, Status.ABANDONED.value, Status.CALLBACK_REQUESTED.value)


@dataclass
class Swept:
    """What one sweep did."""

    made: int = 0
    joined: int = 0
    got_through: int = 0
    anonymous: int = 0  # lost cards of the window with no number to call (not kept)
    settled: int = 0  # call backs recorded busy / no answer from their own card
    released: int = 0  # tasks given back: their operator is no longer active

    def line(self) -> str:
        """One line for the log and the command's output."""
        return (
            f"{self.made} task(s) made, {self.joined} card(s) joined an open task, "
            f"{self.got_through} task(s) closed: the caller got through, "
            f"{self.anonymous} lost card(s) without a number to call, "
            f"{self.settled} call back(s) recorded busy or no answer from their card, "
            f"{self.released} task(s) given back from staff no longer active"
        )


def sweep_once(session: Session, now: datetime | None = None) -> Swept:
    """Gather the lost cards no task holds yet, then close tasks whose caller got through."""
    now = now or utcnow()
    flow = published_flow(session)
    done = Swept()
    held = exists().where(CallbackCard.call_id == Call.id)
    lost = session.scalars(
        select(Call)
        .where(
            Call.started_at >= now - LOOKBACK,
            Call.ended_at.is_not(None),
            Call.direction == Direction.INBOUND.value,
            or_(Call.status.in_(_LOST), Call.needs_callback),
            ~held,
        )
        .order_by(Call.started_at, Call.id)
    )
    for card in lost:
        facts = card_facts(card)
        queue = card.queue or flow.default_queue
        reason = task_reason(facts, policy_for(flow, queue))
        if reason is None:
            continue
        number = task_number(facts)
        if number is None:
            done.anonymous += 1
            continue
        due = next_open(max(now, card.ended_at or now), hours_for(flow, queue, card.did))
        joined = gather(session, facts, queue, number, reason, due)
        if joined.made:
            done.made += 1
        else:
            done.joined += 1
    session.flush()
    done.got_through = close_got_through(session, now)
    done.settled = settle_attempts(session, flow, now)
    done.released = release_departed(session)
    return done


def release_departed(session: Session) -> int:
    """Give back to the queue the open tasks held by staff no longer active (left mid-task)."""
    released = session.execute(
        update(CallbackTask)
        .where(
            CallbackTask.closed_at.is_(None),
            CallbackTask.taken_by_id.in_(select(User.id).where(User.active.is_(False))),
        )
        .values(taken_by_id=None, taken_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(released.rowcount)  # type: ignore[attr-defined]


def settle_attempts(session: Session, flow: FlowSettings, now: datetime) -> int:
    """Record by themselves the call backs whose own card says busy or no answer."""
    rows = session.execute(
        select(CallbackAttempt, Call)
        .join(Call, Call.linkedid == CallbackAttempt.linkedid)
        .where(CallbackAttempt.outcome.is_(None), Call.ended_at.is_not(None))
    ).all()
    settled = 0
    for attempt, card in rows:
        outcome = outcome_of_dial(card.status, card.end_reason)
        task = session.get(CallbackTask, attempt.task_id, with_for_update=True)
        if outcome is None or task is None or not task.is_open:
            continue
        record_outcome(
            session,
            task,
            outcome,
            operator_id=attempt.operator_id,
            at=card.ended_at or now,
            policy=policy_for(flow, task.queue),
            hours=hours_for(flow, task.queue, None),
        )
        settled += 1
    return settled


def close_got_through(session: Session, now: datetime) -> int:
    """Close the open tasks whose number has since been answered on an inbound call."""
    # Only the tasks with such a call are read and locked, not every open task.
    through = session.execute(
        select(CallbackTask.id, func.min(Call.started_at))
        .join(
            Call,
            and_(
                Call.src_number == CallbackTask.number,
                Call.started_at > CallbackTask.last_call_at,
            ),
        )
        .where(
            CallbackTask.closed_at.is_(None),
            Call.direction == Direction.INBOUND.value,
            Call.status == Status.ANSWERED.value,
            Call.needs_callback.is_(False),
        )
        .group_by(CallbackTask.id)
    ).all()
    closed = 0
    for task_id, at in through:
        task = session.get(CallbackTask, task_id, with_for_update=True)
        if task is not None and task.is_open:
            close(session, task, TaskOutcome.GOT_THROUGH, at or now, None)
            closed += 1
    return closed


def sweep_locked(sessions: sessionmaker[Session], now: datetime | None = None) -> Swept | None:
    """One sweep in its own transaction, unless another instance is sweeping (then None)."""
    with one_instance(sessions.kw["bind"], _LOCK_KEY) as held:
        if not held:
            return None
        with sessions.begin() as session:
            return sweep_once(session, now)


async def sweep_forever(sessions: sessionmaker[Session], *, every: float) -> None:
    """Sweep every `every` seconds in a thread, off the event loop; never raises."""
    while True:
        await asyncio.sleep(every)
        try:
            done = await asyncio.to_thread(sweep_locked, sessions)
        except Exception:  # the database away: the cards wait, the next sweep finds them
            log.exception("callback sweep failed; trying again in %.0f s", every)
            continue
        if done is not None and (done.made or done.joined or done.got_through or done.settled):
            log.info("callback sweep: %s", done.line())
