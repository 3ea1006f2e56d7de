"""`incoming`: a call from the trunk gets its card, walks the IVR, and is given a queue
(or, closed, a hang-up or a message to leave).

Dialplan: `AGI(${CC_AGI}/incoming,${CHANNEL(linkedid)},${CC_CARD_ID})`. The card is
opened while the menu plays, with an id reserved ahead from the sequence: the route names
it (CC_CARD_ID) and hands the decision to the dialplan at once, and the card is written
after. With no reserved id at hand (SQLite, the database away, the journal active) or a
channel that already has a card, the route waits for the card to name it. The route is
stored after that, so the caller never waits for that write (it still lands before this
call's next card change).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from dialplan.flow import CallFlow, Collect, Decision, default_decision
from dialplan.timeline import TimelineKind
from fastagi import variables as var
from fastagi.cards import CardRef, Event
from fastagi.changes import OpenCard, RouteDecided
from fastagi.protocol import AgiCall, AgiHangup
from fastagi.routes.common import (
    Timeline,
    apply_decision,
    caller_facts,
    dialplan_argument,
    new_call,
    safely,
)
from fastagi.services import AgiServices
from models import Direction

log = logging.getLogger(__name__)


async def incoming(call: AgiCall, services: AgiServices) -> None:
    """Create or find the card, decide the route, hand it to the dialplan as variables."""
    facts = await caller_facts(call, dialplan_argument(call, 1))
    started_at = services.now()
    card_to_be = new_call(facts, Direction.INBOUND, started_at, inbound_did=True)
    # A channel sent here again already has its card (and file): wait for it, as before.
    card_id = None if dialplan_argument(call, 2) else services.reserved_card_id()
    opening = services.change_card(
        facts.linkedid,
        OpenCard(
            card_to_be,
            [
                Event(
                    TimelineKind.CALL_STARTED, started_at, {"did": facts.extension}, facts.uniqueid
                )
            ],
            card_id=card_id,
        ),
    )
    settings = await safely("read the call flow", services.flow_settings())
    timeline = None
    if settings is None:
        decision: Decision | None = default_decision_for(services.default_queue)
    else:
        flow = CallFlow(settings, facts.extension, facts.caller_number or "", started_at)
        timeline = Timeline(flow)
        decision = await walk(call, timeline, services)
    if decision is None:
        # The caller hung up inside the IVR: store what they did; the hangup route closes.
        store_route(services, facts.linkedid, timeline, None)
        return
    if card_id is not None:
        await apply_decision(call, decision, card_to_be.recording_path, card_id)
        await name_the_card_it_has(call, opening, card_id)
    else:
        card = await services.in_time("open the card", opening)
        # An existing card (a call that came back) keeps the file it is already recorded to.
        recording = card.recording_path if card else card_to_be.recording_path
        await apply_decision(call, decision, recording, card.id if card else None)
    store_route(services, facts.linkedid, timeline, decision)


async def name_the_card_it_has(
    call: AgiCall, opening: asyncio.Future[CardRef | None], card_id: int
) -> None:
    """Put CC_CARD_ID right if the card, already written, is an older one of this linkedid.

    Another channel of the call opened it first (with several instances, perhaps on
    another one). Checked without waiting: if it is not written yet, the hangup route
    puts CC_CARD_ID right (it is given the channel's value).
    """
    card = opening.result() if opening.done() else None
    if card is not None and card.id != card_id:
        await call.set_variable(var.CC_CARD_ID, str(card.id))


def default_decision_for(queue: str) -> Decision:
    """Where a call goes when no published flow can be read."""
    return Decision(action="queue", queue=queue, queue_timeout=None, message=None, reason="no_flow")


async def walk(call: AgiCall, timeline: Timeline, services: AgiServices) -> Decision | None:
    """Play the menus and feed the caller's keys to the flow; None when the caller hangs up."""
    flow = timeline.flow
    try:
        step = flow.start()
        timeline.stamp(services.now())
        while not isinstance(step, Decision):
            if isinstance(step, Collect):
                result = await call.get_data(step.prompt, step.timeout_ms, step.max_digits)
                if result.hungup:
                    return None
                step = flow.keys(result.digits or None)
            else:
                await call.stream_file(step.prompt)
                step = flow.played()
            timeline.stamp(services.now())
        return step
    except AgiHangup:
        return None
    except Exception:
        # A fault in routing must not cost the caller: send them to the default queue.
        log.exception("routing failed for %s; using the default queue", call.uniqueid)
        return default_decision(flow.settings, "routing_error")


def store_route(
    services: AgiServices, linkedid: str, timeline: Timeline | None, decision: Decision | None
) -> None:
    """Queue the decision and the IVR steps for the card, after its earlier changes."""
    services.change_card(linkedid, route_decided(linkedid, timeline, decision, services.now()))


def route_decided(
    linkedid: str, timeline: Timeline | None, decision: Decision | None, now: datetime
) -> RouteDecided:
    """The card change for the decision and the IVR steps behind it."""
    flow = timeline.flow if timeline else None
    events = timeline.events() if timeline else []
    if decision is None:
        events.append(Event(TimelineKind.CALLER_LEFT_IVR, now))
    else:
        events.append(
            Event(
                TimelineKind.ROUTE,
                now,
                {
                    "action": decision.action,
                    "queue": decision.queue or "",
                    "reason": decision.reason,
                },
            )
        )
    end_reason = None
    if decision is not None and decision.action != "queue":
        end_reason = "closed_hours" if decision.reason.startswith("closed_hours") else "ivr_hangup"
    queue = decision.queue if decision else None
    if decision is not None and decision.action == "voicemail" and flow is not None:
        # The message is the default queue's to call back: its staff see the card.
        queue = flow.settings.default_queue
    return RouteDecided(
        linkedid,
        queue=queue,
        ivr_path=" > ".join(flow.ivr_path) if flow and flow.ivr_path else None,
        did_source=flow.did.source if flow else None,
        did_city=flow.did.city if flow else None,
        events=events,
        end_reason=end_reason,
        queue_entered_at=now if decision and decision.action == "queue" else None,
        # A voicemail's recording is the caller's message.
        recorded=decision is not None and decision.action in ("queue", "voicemail"),
    )
