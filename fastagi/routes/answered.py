"""`answered`: Queue() connected the caller to an operator; note who and when."""

from __future__ import annotations

from fastagi import variables as var
from fastagi.changes import Answered
from fastagi.channels import extension_of
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts
from fastagi.services import AgiServices


async def answered(call: AgiCall, services: AgiServices) -> None:
    """Set answered_at, the operator and the wait on the card (runs before the bridge: be quick).

    The card change runs after the call's earlier ones without holding the bridge for it.
    """
    facts = await caller_facts(call)
    interface = await call.get_variable(var.MEMBERINTERFACE)
    extension = extension_of(interface)
    services.change_card(
        facts.linkedid,
        Answered(facts.linkedid, extension=extension, interface=interface, at=services.now()),
    )
    if extension:
        await call.set_variable(var.CC_OPERATOR, extension)
