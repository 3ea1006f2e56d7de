"""Pieces every route uses: reading who is calling, writing the decision, fault isolation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from dialplan.flow import CallFlow, Decision
from fastagi import variables as var
from fastagi.cards import Event, NewCall
from fastagi.changes import RouteDecided
from fastagi.protocol import AgiCall
from fastagi.services import AgiServices
from models import Direction

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class CallerFacts:
    """Who is calling whom, from the AGI headers and the channel."""

    uniqueid: str
    linkedid: str
    extension: str
    caller_number: str | None
    caller_name: str | None


def _known(value: str | None) -> str | None:
    """AGI headers say 'unknown' for missing caller data."""
    if value is None or value.strip() in {"", "unknown"}:
        return None
    return value.strip()


def new_call(
    facts: CallerFacts, direction: Direction, started_at: datetime, *, inbound_did: bool
) -> NewCall:
    """The card-to-be of this call: inbound calls name their DID, outbound their operator."""
    return NewCall(
        uniqueid=facts.uniqueid,
        linkedid=facts.linkedid,
        direction=direction,
        started_at=started_at,
        src_number=facts.caller_number,
        dst_number=facts.extension,
        did=facts.extension if inbound_did else None,
        caller_name=facts.caller_name,
        operator_extension=None if inbound_did else facts.caller_number,
    )


def dialplan_argument(call: AgiCall, number: int) -> str | None:
    """AGI argument `number` (1-based) the dialplan passed, or None when it passed none.

    The dialplan hands over what it already knows as arguments (no round trip to ask for
    it); a dialplan from before that passes none, and the route asks as it used to
    (a rolling upgrade deploys the dialplan and the server apart).
    """
    return call.args[number - 1] if len(call.args) >= number else None


async def caller_facts(call: AgiCall, linkedid: str | None = None) -> CallerFacts:
    """Read the call's identity; linkedid keys the card (falls back to the uniqueid).

    `linkedid`: ${CHANNEL(linkedid)} as the dialplan passed it; asked for when absent.
    """
    uniqueid = call.headers.get("agi_uniqueid", "")
    linkedid = linkedid or await call.get_full_variable(var.LINKEDID) or uniqueid
    return CallerFacts(
        uniqueid=uniqueid,
        linkedid=linkedid,
        extension=call.headers.get("agi_extension", ""),
        caller_number=_known(call.headers.get("agi_callerid")),
        caller_name=_known(call.headers.get("agi_calleridname")),
    )


async def safely(what: str, work: Awaitable[T]) -> T | None:
    """Await database work; on failure log it and go on, because the call must go on."""
    try:
        return await work
    except Exception:
        log.exception("could not %s; the call continues", what)
        return None


@dataclass
class Timeline:
    """Stamps the flow's events with the time each one happened."""

    flow: CallFlow
    stamps: list[datetime] = field(default_factory=list)

    def stamp(self, now: datetime) -> None:
        """Give every event the flow added since the last stamp the time `now`."""
        self.stamps.extend([now] * (len(self.flow.events) - len(self.stamps)))

    def events(self) -> list[Event]:
        """The flow's events as card events."""
        return [
            Event(event.kind, at, dict(event.data))
            for event, at in zip(self.flow.events, self.stamps, strict=False)
        ]


def store_queue_step(
    services: AgiServices, linkedid: str, queue: str | None, events: list[Event]
) -> None:
    """Note a step after the IVR (a transfer, an overflow): the new queue if any, the timeline.

    In the background, after the call's earlier card changes: the caller never waits for it.
    """
    services.change_card(
        linkedid,
        RouteDecided(
            linkedid, queue=queue, ivr_path=None, did_source=None, did_city=None, events=events
        ),
    )


async def apply_decision(
    call: AgiCall, decision: Decision, recording: str, card_id: int | None = None
) -> None:
    """Hand the decision (and the card's id) to the dialplan, in one round trip if it can.

    CC_ACTION goes last because the dialplan checks it. A hangup's message and a
    voicemail's greeting were already played by the route (the flow's Play step), so the
    dialplan only hangs up, or beeps and records the message into `recording`
    ([cc-voicemail]): the session is over before the caller starts speaking.
    """
    values: dict[str, str] = {}
    if card_id is not None:
        values[var.CC_CARD_ID] = str(card_id)
    if decision.action == "queue":
        values[var.CC_QUEUE] = decision.queue or ""
        if decision.queue_timeout:
            values[var.CC_QUEUE_TIMEOUT] = str(decision.queue_timeout)
    if decision.action in ("queue", "voicemail"):
        values[var.CC_RECORDING] = recording
    if decision.action == "voicemail" and decision.max_message_sec:
        values[var.CC_MESSAGE_MAX_SEC] = str(decision.max_message_sec)
    values[var.CC_ACTION] = decision.action
    await call.set_variables(values)
