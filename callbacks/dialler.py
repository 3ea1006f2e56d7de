"""Automatic call backs: in a queue whose callback mode is 'auto', a free operator's phone
rings for the oldest requested callback, then the customer is dialled (pbx/callout.py).

Free: a member of that queue in AMI QueueStatus that is not paused, not in a call and whose
device is idle. `callcards agi` looks every CALLCARDS_CALLBACK_DIAL_EVERY seconds, one
instance at a time (a PostgreSQL advisory lock), so no task is dialled twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callbacks.rules import policy_for
from callbacks.tasks import published_flow, start_attempt, take
from callcards.config import Settings
from callcards.reconcile import one_instance
from models import CallbackTask, Role, TaskReason, User, utcnow
from models.visibility import served_queue_names
from pbx.ami import AmiClient
from pbx.callout import CALL_OUT_TIMEOUT, CallOut, call_out
from pbx.queue_state import QueueAmi
from pbx.queues_conf import member_interface

log = logging.getLogger(__name__)

# pg_try_advisory_lock's key: one dialler at a time across every `callcards agi`.
_LOCK_KEY = 0x6469616C  # "dial"
#: app_queue's member Status for an idle device (AST_DEVICE_NOT_INUSE).
_IDLE = "1"


def free_members(entries: Sequence[Mapping[str, str]]) -> dict[str, set[str]]:
    """Per queue, the member interfaces that can take a call now (QueueStatus' QueueMember)."""
    free: dict[str, set[str]] = {}
    for entry in entries:
        if entry.get("Event") != "QueueMember":
            continue
        interface = entry.get("Location") or entry.get("Interface") or ""
        idle = entry.get("Paused") == "0" and entry.get("InCall", "0") == "0"
        if interface and idle and entry.get("Status") == _IDLE:
            free.setdefault(entry.get("Queue", ""), set()).add(interface)
    return free


def next_requested(session: Session, queue: str, now: datetime) -> CallbackTask | None:
    """The requested callback of this queue that comes first: the caller's place kept."""
    return session.scalar(
        select(CallbackTask)
        .where(
            CallbackTask.queue == queue,
            CallbackTask.reason == TaskReason.CALLBACK_REQUESTED.value,
            CallbackTask.closed_at.is_(None),
            CallbackTask.taken_by_id.is_(None),
            CallbackTask.next_attempt_at <= now,
        )
        .order_by(CallbackTask.priority, CallbackTask.waiting_since, CallbackTask.id)
        .limit(1)
    )


def dial_once(session: Session, ami: QueueAmi, settings: Settings, now: datetime) -> list[str]:
    """Ring a free operator for each auto queue's first requested callback; the linkedids."""
    flow = published_flow(session)
    auto = [name for name in flow.queues if policy_for(flow, name).mode == "auto"]
    if not auto:
        return []
    free = free_members(ami.action_list("QueueStatus"))
    operators = session.scalars(
        select(User).where(
            User.active.is_(True), User.role == Role.OPERATOR.value, User.extension.is_not(None)
        )
    ).all()
    busy: set[int] = set()
    placed: list[str] = []
    for queue in auto:
        for operator in operators:
            interface = member_interface(settings.member_interface, operator.extension or "")
            if operator.id in busy or interface not in free.get(queue, set()):
                continue
            if queue not in session.scalars(served_queue_names(operator)).all():
                continue
            task = next_requested(session, queue, now)
            if task is None or not take(session, task.id, operator.id, now):
                break
            shown = policy_for(flow, queue).caller_id
            linkedid = call_out(
                ami, interface, CallOut(operator.extension or "", task.number, shown, task.number)
            )
            start_attempt(session, task, operator.id, linkedid)
            busy.add(operator.id)
            placed.append(linkedid)
    return placed


def dial_locked(sessions: sessionmaker[Session], settings: Settings) -> list[str] | None:
    """dial_once in its own transaction and AMI session, unless another instance dials."""
    with one_instance(sessions.kw["bind"], _LOCK_KEY) as held:
        if not held:
            return None
        with (
            sessions.begin() as session,
            AmiClient.from_settings(settings, timeout=CALL_OUT_TIMEOUT) as ami,
        ):
            return dial_once(session, ami, settings, utcnow())


async def dial_forever(
    sessions: sessionmaker[Session], settings: Settings, *, every: float
) -> None:
    """Look for free operators every `every` seconds in a thread; never raises."""
    while True:
        await asyncio.sleep(every)
        try:
            placed = await asyncio.to_thread(dial_locked, sessions, settings)
        except Exception:  # AMI or the database away: the tasks wait for the next look
            log.exception("callback dialler failed; trying again in %.0f s", every)
            continue
        if placed:
            log.info("callback dialler: %d call(s) back placed", len(placed))
