"""`outbound`: an operator's outgoing call gets a card and a recording name."""

from __future__ import annotations

from fastagi import variables as var
from fastagi.cards import Event, NewCall
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts, safely
from fastagi.services import AgiServices
from models import Direction


async def outbound(call: AgiCall, services: AgiServices) -> None:
    """Open an outbound card with the operator set; the dialplan records and dials."""
    facts = await caller_facts(call)
    started_at = services.now()
    new_call = NewCall(
        uniqueid=facts.uniqueid,
        linkedid=facts.linkedid,
        direction=Direction.OUTBOUND,
        started_at=started_at,
        src_number=facts.caller_number,
        dst_number=facts.extension,
        caller_name=facts.caller_name,
        operator_extension=facts.caller_number,
    )
    card = await safely(
        "open the outbound card",
        services.db(
            services.cards.open_card,
            new_call,
            [Event("outbound_dial", started_at, {"number": facts.extension}, facts.uniqueid)],
        ),
    )
    if card is not None:
        await call.set_variable(var.CC_CARD_ID, str(card.id))
    await call.set_variable(var.CC_RECORDING, new_call.recording_path)
