"""Callbacks on real calls (sandbox Asterisk 22): a caller gives up in the queue, a task
appears; the operator clicks to call, their phone (a Local channel) answers, the customer's
number is dialled, and busy / no answer / answered give the task's outcome, as Asterisk's
CDR says. AMI away or the phone unregistered: the click is refused clearly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from callbacks.dialler import dial_locked
from callbacks.sweep import sweep_locked
from callcards.sandbox import SandboxInfo
from models import AsteriskCdr, Call, CallbackTask, Queue, Status, User, utcnow
from models.flow import publish
from tests.agi_process import AgiProcess, free_port
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.sandbox_site import sandbox_settings, signed_in

pytestmark = pytest.mark.asterisk

DID = "74951234567"
JSON = {"Accept": "application/json"}


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """AMI on the sandbox with the FastAGI server up; operators answer at once."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        await driver.set_global("CC_DIAL_TIMEOUT", "4")  # "no answer" in seconds, not a minute
        try:
            yield driver
        finally:
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
            await driver.set_global("CC_DIAL_TIMEOUT", "60")


async def caller_gives_up(ami: AsteriskDriver, caller: str) -> TestCall:
    """`caller` chooses appointments, waits 6 s while nobody answers, and hangs up."""
    await ami.set_global("CC_TEST_ANSWER_DELAY", "60")
    call = await ami.call(DID, caller)
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)
    await ami.press(call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    await asyncio.sleep(6.0)
    await ami.hangup(call)
    await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
    return call


def task_of(sessions: sessionmaker[Session], number: str) -> CallbackTask:
    with sessions() as session:
        task = session.scalar(
            select(CallbackTask)
            .where(CallbackTask.number == number)
            .order_by(CallbackTask.id.desc())
        )
        assert task is not None, number
        assert task.tries is not None  # loaded while the session is open
        return task


async def far_end_cdr(
    sessions: sessionmaker[Session], linkedid: str, column: Any = AsteriskCdr.disposition
) -> str | None:
    """The customer's side as Asterisk's CDR records it (the sandbox's PSTN leg), polled:
    CDR rows land after the hangup."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with sessions() as session:
            found = session.scalar(
                select(column).where(
                    AsteriskCdr.linkedid == linkedid, AsteriskCdr.dcontext == "cc-test-pstn"
                )
            )
        if found:
            return found
        await asyncio.sleep(0.3)
    return None


@pytest.mark.parametrize(
    ("caller", "card_status", "end_reason", "cdr", "outcome"),
    [
        ("79161110001", "answered", "answered", "ANSWERED", "reached"),
        ("79161110007", "busy", "busy", "BUSY", "busy"),
        # A far end hung up while still ringing is FAILED in CDR (it never answered).
        ("79161110009", "missed", "no_answer", "FAILED", "no_answer"),
    ],
)
async def test_a_caller_who_gave_up_is_called_back_and_the_outcome_follows(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
    database_url: str,
    caller: str,
    card_status: str,
    end_reason: str,
    cdr: str,
    outcome: str,
) -> None:
    lost = await caller_gives_up(ami, caller)
    card = await wait_card(sessions, lost.linkedid)
    assert card.status == "abandoned" and card.queue == "appointments"
    sweep_locked(sessions)
    task = task_of(sessions, caller)
    assert (task.queue, task.reason, task.closed_at) == ("appointments", "abandoned", None)

    site = signed_in(sandbox_settings(asterisk_sandbox, database_url), "operator1", "operator1")
    clicked = site.post(f"/callbacks/{task.id}/call", headers=JSON)
    assert clicked.status_code == 200, clicked.get_json()
    linkedid = clicked.get_json()["linkedid"]
    if card_status == "answered":
        await ami.wait_for(
            lambda e: e.event == "DialEnd" and e.uniqueid == linkedid and e.dialstatus == "ANSWER",
            since=lost.since,
        )
        await asyncio.sleep(1.0)
        reply = await ami.action({"Action": "Hangup", "Channel": linkedid, "Cause": "16"})
        assert reply.success
    back = await wait_card(sessions, linkedid)
    assert (back.direction, back.status, back.end_reason) == ("outbound", card_status, end_reason)
    assert back.dst_number == caller and back.recording_path
    assert await far_end_cdr(sessions, linkedid) == cdr
    if outcome == "reached":
        page: Any = site.post(f"/callbacks/{task.id}/outcome", data={"outcome": "reached"})
        assert page.status_code == 302
    else:
        done = sweep_locked(sessions)  # busy / no answer: taken from the call's own card
        assert done is not None and done.settled == 1
    after = task_of(sessions, caller)
    assert after.attempts == 1
    if outcome == "reached":
        assert after.outcome == "reached" and after.closed_at is not None
    else:
        assert after.closed_at is None and after.next_attempt_at is not None
        assert [attempt.outcome for attempt in after.tries] == [outcome]


async def test_click_to_call_refused_when_ami_is_down_or_the_phone_unregistered(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
    database_url: str,
) -> None:
    lost = await caller_gives_up(ami, "79161110011")
    await wait_card(sessions, lost.linkedid)
    sweep_locked(sessions)
    task = task_of(sessions, "79161110011")
    away = replace(sandbox_settings(asterisk_sandbox, database_url), ami_port=free_port())
    site = signed_in(away, "operator1", "operator1")
    refused = site.post(f"/callbacks/{task.id}/call", headers=JSON)
    assert refused.status_code == 503
    assert "Asterisk cannot be reached" in refused.get_json()["message"]
    unregistered = replace(
        sandbox_settings(asterisk_sandbox, database_url), member_interface="PJSIP/{extension}"
    )
    site = signed_in(unregistered, "operator1", "operator1")
    refused = site.post(f"/callbacks/{task.id}/call", headers=JSON)
    assert refused.status_code == 409
    assert "not registered" in refused.get_json()["message"]
    assert task_of(sessions, "79161110011").attempts == 0


@pytest.mark.parametrize(
    ("number", "reason"),
    [("88091234561", "number_not_allowed"), ("1234567890123456", "number_too_long")],
)
async def test_an_operator_dialling_a_refused_number_hears_why_and_the_card_fails(
    ami: AsteriskDriver, sessions: sessionmaker[Session], number: str, reason: str
) -> None:
    call = await ami.outbound("101", number)
    await ami.wait_for(
        lambda e: (
            e.event == "Newexten" and e.uniqueid == call.dialplan_id and e.application == "Playback"
        ),
        since=call.since,
    )
    card = await wait_card(sessions, call.linkedid)
    assert (card.direction, card.status, card.end_reason) == ("outbound", "failed", reason)
    assert "outbound_refused" in [event.kind for event in card.events]
    assert not any(
        e.event == "DialBegin" and e.uniqueid == call.dialplan_id for e in ami.events_of(call)
    )


def set_mode(sessions: sessionmaker[Session], queue: str, callbacks: dict[str, Any] | None) -> None:
    """Publish the call flow with `queue`'s callback settings (None: the defaults)."""
    with sessions.begin() as session:
        session.execute(update(Queue).where(Queue.name == queue).values(callbacks=callbacks))
        publish(session, user_id=None, comment=f"test: {queue} callbacks {callbacks}")


def requested(sessions: sessionmaker[Session], number: str, minutes_ago: int) -> None:
    """A caller who left appointments asking to be called back (virtual hold's card)."""
    started = utcnow() - timedelta(minutes=minutes_ago)
    with sessions.begin() as session:
        session.add(
            Call(
                uniqueid=f"vh-{number}",
                linkedid=f"vh-{number}",
                queue="appointments",
                direction="inbound",
                status=Status.CALLBACK_REQUESTED.value,
                started_at=started,
                queue_entered_at=started + timedelta(seconds=5),
                ended_at=started + timedelta(seconds=70),
                wait_sec=60,
                duration_sec=70,
                src_number=number,
            )
        )


async def test_requested_callbacks_are_dialled_when_operators_are_free_oldest_first(
    ami: AsteriskDriver,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
    database_url: str,
) -> None:
    set_mode(sessions, "appointments", {"mode": "auto", "caller_id": "74950001122"})
    try:
        requested(sessions, "79161110031", minutes_ago=10)
        requested(sessions, "79161110021", minutes_ago=20)  # joined the queue first
        sweep_locked(sessions)
        since = len(ami.events)
        placed = dial_locked(sessions, sandbox_settings(asterisk_sandbox, database_url))
        assert placed is not None and len(placed) == 2
        for linkedid in placed:
            await ami.wait_for(
                lambda e, linkedid=linkedid: (
                    e.event == "DialEnd" and e.uniqueid == linkedid and e.dialstatus == "ANSWER"
                ),
                since=since,
            )
            reply = await ami.action({"Action": "Hangup", "Channel": linkedid, "Cause": "16"})
            assert reply.success
        first, second = [await wait_card(sessions, linkedid) for linkedid in placed]
        assert (first.dst_number, second.dst_number) == ("79161110021", "79161110031")
        assert first.status == "answered" and first.direction == "outbound"
        assert {operator_of(sessions, first), operator_of(sessions, second)} == {"101", "102"}
        # The customer saw the queue's number, not the operator's extension.
        assert await far_end_cdr(sessions, first.linkedid, AsteriskCdr.src) == "74950001122"
        assert dial_locked(sessions, sandbox_settings(asterisk_sandbox, database_url)) == []
    finally:
        set_mode(sessions, "appointments", None)


def operator_of(sessions: sessionmaker[Session], card: Call) -> str | None:
    with sessions() as session:
        user = session.get(User, card.operator_id) if card.operator_id else None
        return user.extension if user else None
