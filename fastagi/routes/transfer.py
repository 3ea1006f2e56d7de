"""`transfer`: a call sent to another queue keeps its card and gains the new queue."""

from __future__ import annotations

from dialplan.flow import Decision, decide_transfer
from dialplan.timeline import TimelineKind
from fastagi.cards import Event
from fastagi.changes import CardRead
from fastagi.protocol import AgiCall
from fastagi.routes.common import apply_decision, caller_facts, safely, store_queue_step
from fastagi.services import AgiServices


async def transfer(call: AgiCall, services: AgiServices) -> None:
    """Route the caller to the queue named in the first argument, on the same card."""
    facts = await caller_facts(call)
    target = call.args[0] if call.args else ""
    settings = await safely("read the call flow", services.flow_settings())
    if settings is None:
        decision = Decision(
            action="queue",
            queue=target or services.default_queue,
            queue_timeout=None,
            message=None,
            reason="transfer",
        )
    else:
        decision = decide_transfer(settings, target)
    now = services.now()
    card = await services.card("find the card", facts.linkedid, CardRead(facts.linkedid))
    # The dialplan keeps recording to the first file (one MixMonitor per channel).
    recording = card.recording_path if card and card.recording_path else ""
    await apply_decision(call, decision, recording, card.id if card else None)
    # Stored after the dialplan has its answer (before this call's next card change).
    store_queue_step(
        services,
        facts.linkedid,
        decision.queue,
        [
            Event(
                TimelineKind.TRANSFERRED,
                now,
                {
                    "from_queue": card.queue if card and card.queue else "",
                    "to_queue": decision.queue or "",
                    "reason": decision.reason,
                },
                facts.uniqueid,
            ),
        ],
    )
