"""`hangup`: the call is over; close its card with times, status and reason, and note a
message the caller left.

Dialplan: `AGI(${CC_AGI}/hangup,${CHANNEL(linkedid)},${CC_ACTION},${CC_CARD_ID})`; a
dialplan from before these arguments gets the same asked with GET VARIABLE.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from fastagi import variables as var
from fastagi.cards import HangupReport, NewCall
from fastagi.changes import HungUp, MessageLeft, RecordingChecked
from fastagi.protocol import AgiCall
from fastagi.routes.common import CallerFacts, caller_facts, dialplan_argument
from fastagi.services import AgiServices
from models import Direction, RecordingState


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value else None
    except ValueError:
        return None


async def read_report(call: AgiCall, facts: CallerFacts, ended_at: datetime) -> HangupReport:
    """The dialplan's own variables, read from the dead channel (only GET VARIABLE works)."""
    cdr_duration = _int(await call.get_full_variable(var.CDR_DURATION)) or 0
    return HangupReport(
        call=NewCall(
            uniqueid=facts.uniqueid,
            linkedid=facts.linkedid,
            direction=Direction.INBOUND,
            started_at=ended_at - timedelta(seconds=cdr_duration),
            src_number=facts.caller_number,
            dst_number=facts.extension,
            did=facts.extension,
            caller_name=facts.caller_name,
            recording=await call.get_variable(var.CC_RECORDING),
        ),
        ended_at=ended_at,
        queue_status=await call.get_variable(var.QUEUESTATUS) or "",
        dial_status=await call.get_variable(var.DIALSTATUS) or "",
        queue_returned=bool(await call.get_variable(var.CC_QUEUE_RETURNED)),
        queue_entered=bool(await call.get_variable(var.CC_QUEUE_ENTERED)),
        hangup_source=await call.get_full_variable(var.HANGUPSOURCE) or "",
        cause=await call.get_variable(var.HANGUPCAUSE) or "",
        answered_seconds=_int(await call.get_variable(var.ANSWEREDTIME)),
        member=await call.get_variable(var.MEMBERINTERFACE),
        queue=await call.get_variable(var.CC_QUEUE),
    )


async def hangup(call: AgiCall, services: AgiServices) -> None:
    """Close the card from what the channel says; settle the recording a little later."""
    call.mark_dead()  # a hangup handler's channel is dead from the start
    ended_at = services.now()
    facts = await caller_facts(call, dialplan_argument(call, 1))
    report = await read_report(call, facts, ended_at)
    card = await services.card("close the card", facts.linkedid, HungUp(report))
    if card is not None:
        await name_the_card(call, card.id)
    action = dialplan_argument(call, 2)
    if action is None:
        action = await call.get_variable(var.CC_ACTION)
    if action == var.ACTION_VOICEMAIL:
        # Record() has closed the file by now (it ends before the hangup handler runs).
        services.change_card(
            facts.linkedid,
            MessageLeft(
                facts.linkedid,
                at=ended_at,
                record_status=await call.get_variable(var.RECORD_STATUS) or "",
            ),
        )
    if card is not None and card.recording_state == RecordingState.PENDING:
        services.in_background(settle_recording(services, facts.linkedid))


async def name_the_card(call: AgiCall, card_id: int) -> None:
    """Leave CC_CARD_ID naming the card the call really has (AMI's last events carry it).

    `incoming` names a card by an id reserved ahead; a call whose linkedid already had a
    card (opened by another channel of it) keeps that card, and its id is put right here.
    """
    told = dialplan_argument(call, 3)
    if told is None:
        told = await call.get_variable(var.CC_CARD_ID)
    if told and told != str(card_id):
        await call.set_variable(var.CC_CARD_ID, str(card_id))


async def settle_recording(services: AgiServices, linkedid: str) -> None:
    """Re-check the card's recording until it is there, or say it is empty or missing."""
    delays = services.recording_recheck_delays
    for attempt, delay in enumerate(delays, start=1):
        await asyncio.sleep(delay)
        state = await services.card(
            "re-check the recording",
            linkedid,
            RecordingChecked(linkedid, final=attempt == len(delays)),
        )
        if state is not None and state != RecordingState.PENDING:
            return
