"""How a call ended, from the dialplan's variables: the table of docs/architecture.md."""

from __future__ import annotations

import pytest

from fastagi.outcome import HangupFacts, classify
from models import Direction, Status

INBOUND = Direction.INBOUND
OUTBOUND = Direction.OUTBOUND


@pytest.mark.parametrize(
    ("facts", "status", "reason"),
    [
        (HangupFacts(INBOUND, answered=True), Status.ANSWERED, "caller_hangup"),
        (
            HangupFacts(INBOUND, answered=True, queue_returned=True),
            Status.ANSWERED,
            "operator_hangup",
        ),
        (
            HangupFacts(INBOUND, answered=False, entered_queue=True),
            Status.ABANDONED,
            "caller_hangup_queue",
        ),
        (HangupFacts(INBOUND, answered=False), Status.ABANDONED, "caller_hangup_ivr"),
        (
            HangupFacts(INBOUND, answered=False, queue_status="TIMEOUT", entered_queue=True),
            Status.MISSED,
            "queue_timeout",
        ),
        (
            HangupFacts(INBOUND, answered=False, queue_status="JOINEMPTY", entered_queue=True),
            Status.MISSED,
            "no_operator",
        ),
        (
            HangupFacts(INBOUND, answered=False, queue_status="leaveunavail", entered_queue=True),
            Status.MISSED,
            "no_operator_left",
        ),
        (HangupFacts(INBOUND, answered=False, queue_status="FULL"), Status.MISSED, "queue_full"),
        (
            HangupFacts(INBOUND, answered=False, reason_so_far="closed_hours"),
            Status.MISSED,
            "closed_hours",
        ),
        (
            HangupFacts(INBOUND, answered=False, reason_so_far="ivr_hangup"),
            Status.MISSED,
            "ivr_hangup",
        ),
        (HangupFacts(OUTBOUND, answered=False, dial_status="ANSWER"), Status.ANSWERED, "answered"),
        (HangupFacts(OUTBOUND, answered=False, dial_status="BUSY"), Status.BUSY, "busy"),
        (
            HangupFacts(OUTBOUND, answered=False, dial_status="CONGESTION"),
            Status.FAILED,
            "congestion",
        ),
        (
            HangupFacts(OUTBOUND, answered=False, dial_status="CHANUNAVAIL"),
            Status.FAILED,
            "unavailable",
        ),
        (HangupFacts(OUTBOUND, answered=False, dial_status="NOANSWER"), Status.MISSED, "no_answer"),
        (
            HangupFacts(OUTBOUND, answered=False, dial_status="CANCEL"),
            Status.ABANDONED,
            "cancelled",
        ),
        (HangupFacts(OUTBOUND, answered=False), Status.ABANDONED, "cancelled"),
    ],
)
def test_hangup_variables_give_the_documented_status_and_reason(
    facts: HangupFacts, status: Status, reason: str
) -> None:
    outcome = classify(facts)
    assert (outcome.status, outcome.end_reason) == (status, reason)


def test_an_answered_call_stays_answered_whatever_queue_status_says() -> None:
    outcome = classify(HangupFacts(INBOUND, answered=True, queue_status="TIMEOUT"))
    assert outcome.status is Status.ANSWERED
