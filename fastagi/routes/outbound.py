"""`outbound`: an operator's outgoing call gets a card and a recording name."""

from __future__ import annotations

from dialplan.timeline import TimelineKind
from fastagi import variables as var
from fastagi.cards import Event
from fastagi.changes import OpenCard
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts, new_call
from fastagi.services import AgiServices
from models import Direction


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
    await call.set_variable(var.CC_RECORDING, card_to_be.recording_path)
