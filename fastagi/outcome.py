"""How a call ended, decided from the dialplan's own variables (pure, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from dialplan.numbers import Refusal
from dialplan.virtual_hold import CALLBACK_REQUESTED
from models import Direction, Status

_REFUSALS = frozenset(refusal.value for refusal in Refusal)

# QUEUESTATUS values Queue() leaves when it returns without an answer. (CONTINUE follows an
# answered call whose operator hung up first, with Queue() option c.) After an overflow the
# dialplan clears QUEUESTATUS before the next Queue(), so this is always the last queue's.
_QUEUE_UNANSWERED = {
    "TIMEOUT": "queue_timeout",
    "FULL": "queue_full",
    # Refused at the door (not offered, METRICS.md) vs left waiting when the last operator
    # went away (offered, then missed): reports count the two apart.
    "JOINEMPTY": "no_operator",
    "JOINUNAVAIL": "no_operator",
    "LEAVEEMPTY": "no_operator_left",
    "LEAVEUNAVAIL": "no_operator_left",
    "WITHDRAW": "queue_withdrawn",
}

# DIALSTATUS of an operator's outgoing call, as Dial() reports it.
_DIAL_OUTCOMES = {
    "ANSWER": (Status.ANSWERED, "answered"),
    "BUSY": (Status.BUSY, "busy"),
    "CONGESTION": (Status.FAILED, "congestion"),
    "CHANUNAVAIL": (Status.FAILED, "unavailable"),
    "NOANSWER": (Status.MISSED, "no_answer"),
    "CANCEL": (Status.ABANDONED, "cancelled"),
    "DONTCALL": (Status.FAILED, "refused"),
    "TORTURE": (Status.FAILED, "refused"),
    "INVALIDARGS": (Status.FAILED, "invalid_number"),
}


@dataclass(frozen=True)
class Outcome:
    """How a call ended: the final status and why."""

    status: Status
    end_reason: str


@dataclass(frozen=True)
class HangupFacts:
    """What the hangup handler reads from the channel and the card."""

    direction: Direction
    answered: bool
    queue_status: str = ""
    dial_status: str = ""
    queue_returned: bool = False
    entered_queue: bool = False
    reason_so_far: str | None = None  # set by an earlier route: closed_hours, ivr_hangup,
    # callback_requested


def classify(facts: HangupFacts) -> Outcome:
    """The card's final status and end reason."""
    if facts.direction is Direction.OUTBOUND:
        return _classify_outbound(facts)
    if facts.answered:
        # Queue() returns to the dialplan only when the operator's side hangs up first.
        return Outcome(
            Status.ANSWERED, "operator_hangup" if facts.queue_returned else "caller_hangup"
        )
    if facts.reason_so_far == CALLBACK_REQUESTED:
        # The caller left the queue with its callback key and gave a number (virtual hold).
        return Outcome(Status.CALLBACK_REQUESTED, CALLBACK_REQUESTED)
    queue_status = facts.queue_status.strip().upper()
    if queue_status in _QUEUE_UNANSWERED:
        return Outcome(Status.MISSED, _QUEUE_UNANSWERED[queue_status])
    if facts.reason_so_far in {"closed_hours", "ivr_hangup"}:
        return Outcome(Status.MISSED, facts.reason_so_far)
    if facts.entered_queue:
        return Outcome(Status.ABANDONED, "caller_hangup_queue")
    return Outcome(Status.ABANDONED, "caller_hangup_ivr")


def _classify_outbound(facts: HangupFacts) -> Outcome:
    if facts.reason_so_far in _REFUSALS:  # the allowlist refused the number: never dialled
        return Outcome(Status.FAILED, facts.reason_so_far)
    dial_status = facts.dial_status.strip().upper()
    if facts.answered or dial_status == "ANSWER":
        return Outcome(Status.ANSWERED, "answered")
    if dial_status in _DIAL_OUTCOMES:
        status, reason = _DIAL_OUTCOMES[dial_status]
        return Outcome(status, reason)
    # The operator hung up before Dial() even ran.
    return Outcome(Status.ABANDONED, "cancelled")
