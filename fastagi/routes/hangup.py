"""`hangup`: the call is over; close its card with times, status and reason."""

from __future__ import annotations

from datetime import timedelta

from fastagi import variables as var
from fastagi.cards import NewCall
from fastagi.outcome import HangupFacts, classify
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts, safely
from fastagi.services import AgiServices
from models import Direction


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


async def hangup(call: AgiCall, services: AgiServices) -> None:
    """Read the dialplan's own variables (dead channel) and close the card."""
    call.mark_dead()  # a hangup handler's channel is dead from the start
    ended_at = services.now()
    facts = await caller_facts(call)
    queue_status = await call.get_variable(var.QUEUESTATUS) or ""
    dial_status = await call.get_variable(var.DIALSTATUS) or ""
    queue_returned = bool(await call.get_variable(var.CC_QUEUE_RETURNED))
    # Set by the dialplan just before Queue(): also true for a call that the fallback
    # path queued while this server was away.
    queue_entered = bool(await call.get_variable(var.CC_QUEUE_ENTERED))
    hangup_source = await call.get_full_variable(var.HANGUPSOURCE) or ""
    cause = await call.get_variable(var.HANGUPCAUSE) or ""
    answered_time = _int(await call.get_variable(var.ANSWEREDTIME))

    card = await safely("find the card", services.db(services.cards.find, facts.linkedid))
    if card is None:
        # The call started while this server was away: give it a card now, late but whole.
        card = await safely("open a late card", services.db(
            services.cards.open_card,
            NewCall(
                uniqueid=facts.uniqueid, linkedid=facts.linkedid,
                direction=Direction.INBOUND, started_at=ended_at,
                src_number=facts.caller_number, dst_number=facts.extension,
                did=facts.extension, caller_name=facts.caller_name,
            ),
        ))
        card = await safely("find the card", services.db(services.cards.find, facts.linkedid))
        if card is None:
            return
    direction = Direction(card.direction)
    outcome = classify(HangupFacts(
        direction=direction,
        answered=card.answered_at is not None,
        queue_status=queue_status,
        dial_status=dial_status,
        queue_returned=queue_returned,
        entered_queue=card.queue_entered_at is not None or queue_entered,
        reason_so_far=card.end_reason,
    ))
    answered_at = None
    if direction is Direction.OUTBOUND and answered_time is not None:
        answered_at = ended_at - timedelta(seconds=answered_time)
    await safely("close the card", services.db(
        services.cards.close,
        facts.linkedid,
        outcome,
        ended_at=ended_at,
        answered_at=answered_at,
        data={
            "queue_status": queue_status,
            "dial_status": dial_status,
            "hangup_source": hangup_source,
            "cause": cause,
            "status": outcome.status.value,
            "reason": outcome.end_reason,
        },
    ))
