"""`overflow`: a queue gave the caller back unanswered; send them where the queue says.

Runs after Queue() returns with QUEUESTATUS empty-ish (JOINEMPTY, LEAVEEMPTY, ..., FULL)
or TIMEOUT; the dialplan never asks when an operator answered (CONTINUE). The choice is
`dialplan.overflow.decide_overflow`, the simulator's too. A message is played here, then
the dialplan hangs up or queues the caller again (the recording goes on: one per channel).
"""

from __future__ import annotations

from dialplan.overflow import decide_overflow
from dialplan.settings import FlowSettings
from dialplan.steps import Play
from fastagi import variables as var
from fastagi.cards import Event
from fastagi.protocol import AgiCall, AgiHangup
from fastagi.routes.common import apply_decision, caller_facts, safely, store_queue_step
from fastagi.services import AgiServices


def _count(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


async def overflow(call: AgiCall, services: AgiServices) -> None:
    """Read why the queue returned, decide, note it on the card, hand it to the dialplan."""
    facts = await caller_facts(call)
    queue = await call.get_variable(var.CC_QUEUE) or ""
    status = await call.get_variable(var.QUEUESTATUS) or ""
    # The dialplan counts this return too: the hops taken before it are one fewer.
    hops = _count(await call.get_variable(var.CC_OVERFLOWS)) - 1
    settings = await safely("read the call flow", services.flow_settings())
    result = decide_overflow(
        settings or FlowSettings(services.default_queue), queue, status, max(hops, 0)
    )
    decision = result.decision
    store_queue_step(
        services,
        facts.linkedid,
        decision.queue,
        [
            Event(event.kind, services.now(), dict(event.data), facts.uniqueid)
            for event in result.events
        ],
    )
    try:
        for step in result.steps:
            if isinstance(step, Play):
                await call.stream_file(step.prompt)
    except AgiHangup:
        return  # the caller left during the message; the hangup route closes the card
    recording = await call.get_variable(var.CC_RECORDING) or ""
    await apply_decision(call, decision, recording)
