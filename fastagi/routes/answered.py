"""`answered`: Queue() connected the caller to an operator; note who and when."""

from __future__ import annotations

import re

from fastagi import variables as var
from fastagi.protocol import AgiCall
from fastagi.routes.common import caller_facts, safely
from fastagi.services import AgiServices

# PJSIP/101, SIP/101-0000001a, Local/101@cc-test-operators/n, PJSIP/101@site
_EXTENSION = re.compile(r"^[A-Za-z]+/([^@/\-;]+)")


def extension_of(interface: str | None) -> str | None:
    """The operator's extension inside a queue member interface."""
    if not interface:
        return None
    match = _EXTENSION.match(interface.strip())
    return match.group(1) if match else None


async def answered(call: AgiCall, services: AgiServices) -> None:
    """Set answered_at, the operator and the wait on the card (runs before the bridge: be quick)."""
    facts = await caller_facts(call)
    interface = await call.get_variable(var.MEMBERINTERFACE)
    extension = extension_of(interface)
    await safely(
        "mark the card answered",
        services.db(
            services.cards.answered,
            facts.linkedid,
            extension=extension,
            interface=interface,
            at=services.now(),
        ),
    )
    if extension:
        await call.set_variable(var.CC_OPERATOR, extension)
