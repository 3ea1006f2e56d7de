"""`ringing`: Queue() is about to ring an operator; their screen pops the card.

Runs as Queue()'s pre-dial Gosub (option `b`) on each member's new channel, before it
rings, so it must be quick and must never stop the member from being rung.
"""

from __future__ import annotations

from fastagi.changes import Ringing
from fastagi.channels import extension_of
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts
from fastagi.services import AgiServices


async def ringing(call: AgiCall, services: AgiServices) -> None:
    """Mark the card with the extension that rings now (the phone rings without waiting)."""
    facts = await caller_facts(call)
    channel = call.headers.get("agi_channel", "")
    extension = extension_of(channel)
    if not extension:
        return
    services.change_card(
        facts.linkedid,
        Ringing(facts.linkedid, extension=extension, channel=channel, at=services.now()),
    )
