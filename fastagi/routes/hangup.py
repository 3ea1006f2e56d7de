"""`hangup`: the call is over; close its card with times, status and reason."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from fastagi import variables as var
from fastagi.cards import Event, NewCall
from fastagi.outcome import HangupFacts, classify
from fastagi.protocol import AgiCall
from fastagi.routes.answered import extension_of
from fastagi.routes.common import CallerFacts, caller_facts, safely
from fastagi.services import AgiServices
from models import Call, Direction


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


@dataclass(frozen=True)
class ChannelAtHangup:
    """The dialplan's own variables, read from the dead channel."""

    queue_status: str
    dial_status: str
    queue_returned: bool
    queue_entered: bool
    hangup_source: str
    cause: str
    answered_seconds: int | None
    member: str | None  # Queue() sets MEMBERINTERFACE once a member answers
    recording: str | None
    queue: str | None
    cdr_duration: int | None


async def read_channel(call: AgiCall) -> ChannelAtHangup:
    """Everything the hangup route needs from the channel (only GET VARIABLE works now)."""
    return ChannelAtHangup(
        queue_status=await call.get_variable(var.QUEUESTATUS) or "",
        dial_status=await call.get_variable(var.DIALSTATUS) or "",
        queue_returned=bool(await call.get_variable(var.CC_QUEUE_RETURNED)),
        queue_entered=bool(await call.get_variable(var.CC_QUEUE_ENTERED)),
        hangup_source=await call.get_full_variable(var.HANGUPSOURCE) or "",
        cause=await call.get_variable(var.HANGUPCAUSE) or "",
        answered_seconds=_int(await call.get_variable(var.ANSWEREDTIME)),
        member=await call.get_variable(var.MEMBERINTERFACE),
        recording=await call.get_variable(var.CC_RECORDING),
        queue=await call.get_variable(var.CC_QUEUE),
        cdr_duration=_int(await call.get_full_variable(var.CDR_DURATION)),
    )


async def hangup(call: AgiCall, services: AgiServices) -> None:
    """Close the card; a call this server never saw gets a late card first."""
    call.mark_dead()  # a hangup handler's channel is dead from the start
    ended_at = services.now()
    facts = await caller_facts(call)
    channel = await read_channel(call)
    card = await safely("find the card", services.db(services.cards.find, facts.linkedid))
    if card is None:
        card = await late_card(services, facts, channel, ended_at)
        if card is None:
            return
    direction = Direction(card.direction)
    answered = card.answered_at is not None or bool(channel.member)
    if card.answered_at is None and channel.member:
        # The `answered` step happened while this server was away: the operator is known.
        await safely("mark the card answered late", services.db(
            services.cards.answered, facts.linkedid,
            extension=extension_of(channel.member), interface=channel.member, at=ended_at,
        ))
    outcome = classify(HangupFacts(
        direction=direction,
        answered=answered,
        queue_status=channel.queue_status,
        dial_status=channel.dial_status,
        queue_returned=channel.queue_returned,
        entered_queue=card.queue_entered_at is not None or channel.queue_entered,
        reason_so_far=card.end_reason,
    ))
    answered_at = None
    if direction is Direction.OUTBOUND and channel.answered_seconds is not None:
        answered_at = ended_at - timedelta(seconds=channel.answered_seconds)
    closed = await safely("close the card", services.db(
        services.cards.close,
        facts.linkedid,
        outcome,
        ended_at=ended_at,
        answered_at=answered_at,
        data={
            "queue_status": channel.queue_status,
            "dial_status": channel.dial_status,
            "hangup_source": channel.hangup_source,
            "cause": channel.cause,
            "status": outcome.status.value,
            "reason": outcome.end_reason,
        },
    ))
    if closed is not None and closed.recording_state == "pending":
        services.in_background(settle_recording(services, facts.linkedid))


async def settle_recording(services: AgiServices, linkedid: str) -> None:
    """Re-check the card's recording until it is there, or say it is empty or missing."""
    delays = services.recording_recheck_delays
    for attempt, delay in enumerate(delays, start=1):
        await asyncio.sleep(delay)
        state = await safely("re-check the recording", services.db(
            services.cards.check_recording, linkedid, final=attempt == len(delays),
        ))
        if state is not None and state != "pending":
            return


async def late_card(
    services: AgiServices, facts: CallerFacts, channel: ChannelAtHangup, ended_at: datetime
) -> Call | None:
    """A card for a call that started while this server was away (the dialplan's fallback)."""
    started_at = ended_at - timedelta(seconds=channel.cdr_duration or 0)
    await safely("open a late card", services.db(
        services.cards.open_card,
        NewCall(
            uniqueid=facts.uniqueid, linkedid=facts.linkedid,
            direction=Direction.INBOUND, started_at=started_at,
            src_number=facts.caller_number, dst_number=facts.extension,
            did=facts.extension, caller_name=facts.caller_name,
            recording=channel.recording,
        ),
        [Event("card_created_late", ended_at, {"queue": channel.queue or ""}, facts.uniqueid)],
    ))
    if channel.queue_entered:
        await safely("store the fallback queue", services.db(
            services.cards.route_decided, facts.linkedid, queue=channel.queue, ivr_path=None,
            did_source=None, did_city=None, events=[], queue_entered_at=started_at,
        ))
    return await safely("find the card", services.db(services.cards.find, facts.linkedid))
