"""`outbound`: an operator's outgoing call gets a card and a recording name."""

from __future__ import annotations

from datetime import datetime

from dialplan.numbers import Refusal, check_outbound
from dialplan.timeline import TimelineKind
from fastagi import variables as var
from fastagi.cards import Event
from fastagi.changes import OpenCard, RouteDecided
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts, new_call
from fastagi.services import AgiServices
from models import Direction

#: "The number you have dialed is not in service" (Asterisk's core sounds).
REFUSED_MESSAGE = "ss-noservice"


async def outbound(call: AgiCall, services: AgiServices) -> None:
    """Open an outbound card with the operator set; the dialplan records and dials."""
    facts = await caller_facts(call)
    started_at = services.now()
    card_to_be = new_call(facts, Direction.OUTBOUND, started_at, inbound_did=False)
    card = await services.card(
        "open the outbound card",
        facts.linkedid,
        OpenCard(
            card_to_be,
            [
                Event(
                    TimelineKind.OUTBOUND_DIAL,
                    started_at,
                    {"number": facts.extension},
                    facts.uniqueid,
                )
            ],
        ),
    )
    if card is not None:
        await call.set_variable(var.CC_CARD_ID, str(card.id))
    refusal = check_outbound(facts.extension, services.outbound_numbers)
    if refusal is not None:
        # The allowlist refuses the number: a message, no trunk; the card ends failed.
        services.change_card(facts.linkedid, refused(facts.linkedid, refusal, started_at))
        await call.set_variable(var.CC_MESSAGE, REFUSED_MESSAGE)
        await call.set_variable(var.CC_ACTION, var.ACTION_HANGUP)
        return
    await call.set_variable(var.CC_RECORDING, card_to_be.recording_path)


def refused(linkedid: str, refusal: Refusal, at: datetime) -> RouteDecided:
    """The card's change for a number the allowlist refuses: why, and no recording."""
    return RouteDecided(
        linkedid,
        queue=None,
        ivr_path=None,
        did_source=None,
        did_city=None,
        events=[Event(TimelineKind.OUTBOUND_REFUSED, at, {"reason": refusal.value})],
        end_reason=refusal.value,
        recorded=False,
    )
