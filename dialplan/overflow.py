"""What a call does when its queue gives it back unanswered: the queue's overflow (pure).

Queue() returns to the dialplan with QUEUESTATUS saying why: no operator could take the
call (JOINEMPTY, LEAVEEMPTY, JOINUNAVAIL, LEAVEUNAVAIL, FULL: the queue's `when_empty`),
the wait ran out (TIMEOUT: its `when_timeout`), or an operator talked to the caller and hung
up first (CONTINUE: the call is over). `decide_overflow` turns that into the next steps, the
same way for the live `overflow` AGI route and for the route simulator.

Nothing here can loop a caller: validation refuses overflow chains that go round, and each
call takes at most `MAX_OVERFLOWS` hops whatever the document says. A queue the flow does
not know (the dialplan's fallback queue, a deleted one), an overflow target that does not
exist or a status nobody expects sends the caller to the default queue, unless that is the
queue that just gave them back: then the call is hung up, as nothing else could take it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.settings import HANG_UP, Action, FlowSettings
from dialplan.steps import Decision, FlowEvent, Play, Step
from dialplan.timeline import TimelineKind

#: Overflow hops one call may take; the next return from a queue hangs up.
MAX_OVERFLOWS = 3

#: QUEUESTATUS values meaning no operator could take the call (FULL: no room either).
EMPTY_STATUSES = frozenset({"JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL"})
TIMEOUT_STATUSES = frozenset({"TIMEOUT"})
#: An operator answered and hung up first (Queue() option c): nothing more to do.
ANSWERED_STATUSES = frozenset({"CONTINUE"})

#: What the simulator may say a queue does, and the QUEUESTATUS each stands for.
QUEUE_OUTCOMES = {"answered": "CONTINUE", "empty": "JOINEMPTY", "timeout": "TIMEOUT"}


@dataclass(frozen=True)
class Overflow:
    """The steps after a queue returned (a message to play, then a Decision) and the events."""

    steps: tuple[Step, ...]
    events: tuple[FlowEvent, ...]

    @property
    def decision(self) -> Decision:
        """Where the call goes next: another queue, or a hang-up."""
        last = self.steps[-1]
        assert isinstance(last, Decision)
        return last


def condition_of(queue_status: str) -> str:
    """empty, timeout, answered, or unknown for a QUEUESTATUS."""
    status = queue_status.strip().upper()
    if status in EMPTY_STATUSES:
        return "empty"
    if status in TIMEOUT_STATUSES:
        return "timeout"
    if status in ANSWERED_STATUSES:
        return "answered"
    return "unknown"


def decide_overflow(
    settings: FlowSettings, queue: str, queue_status: str, hops: int = 0
) -> Overflow:
    """What the call does after `queue` returned with `queue_status`, `hops` overflows so far."""
    condition = condition_of(queue_status)
    data = {
        "from_queue": queue,
        "queue_status": queue_status.strip().upper(),
        "condition": condition,
        "hop": str(hops + 1),
    }
    if condition == "answered":
        return _hangup(HANG_UP, "answered", data)
    if hops >= MAX_OVERFLOWS:
        return _hangup(HANG_UP, "overflow_limit", data)
    known = settings.queues.get(queue)
    if condition == "unknown" or known is None:
        return _to_default(settings, queue, "overflow_fallback", data)
    action = known.when_empty if condition == "empty" else known.when_timeout
    reason = f"overflow_{condition}"
    if action.kind != "queue":
        return _hangup(action, reason, data)
    target = settings.queues.get(action.target or "")
    if target is None or target.name == queue:
        return _to_default(
            settings, queue, "overflow_unknown_queue", {**data, "missing": action.target or ""}
        )
    return _queue(target.name, target.max_wait_sec, reason, data)


def _queue(name: str, timeout: int | None, reason: str, data: dict[str, str]) -> Overflow:
    decision = Decision("queue", name, timeout, None, reason)
    event = FlowEvent(
        TimelineKind.QUEUE_OVERFLOW,
        {**data, "action": "queue", "to_queue": name, "message": "", "reason": reason},
    )
    return Overflow((decision,), (event,))


def _to_default(settings: FlowSettings, queue: str, reason: str, data: dict[str, str]) -> Overflow:
    default = settings.queues.get(settings.default_queue)
    if settings.default_queue == queue or not settings.default_queue:
        return _hangup(HANG_UP, reason, data)
    return _queue(settings.default_queue, default.max_wait_sec if default else None, reason, data)


def _hangup(action: Action, reason: str, data: dict[str, str]) -> Overflow:
    decision = Decision("hangup", None, None, action.message, reason)
    event = FlowEvent(
        TimelineKind.QUEUE_OVERFLOW,
        {
            **data,
            "action": "hangup",
            "to_queue": "",
            "message": action.message or "",
            "reason": reason,
        },
    )
    steps: tuple[Step, ...] = (Play(action.message), decision) if action.message else (decision,)
    return Overflow(steps, (event,))
