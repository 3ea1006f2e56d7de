"""Hold time from a real phone: an operator's desk phone on the sandbox puts the caller on hold.

operator1 (extension 101) gets a desk phone and a phone password on the staff site; the
queues ring PJSIP/101 (written by `pbx.apply_queues`, as `callcards asterisk apply` does);
tests/sip_phone.py answers the call, holds it with a re-INVITE `a=sendonly`, resumes with
`a=sendrecv` and hangs up. Asterisk raises Hold/Unhold on the phone's channel; the FastAGI
server's AMI listener puts them on the call's card and the hangup counts hold_sec.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.sandbox import SandboxInfo
from models import PhoneType, User
from models.session import make_session_factory
from pbx.apply import apply_queues
from pbx.endpoints import apply_endpoints
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.sandbox_site import new_phone_password, sandbox_settings, signed_in
from tests.sip_phone import PhoneLine, SipPhone
from tests.test_calls_asterisk import CALLER, DID, kinds, reach_menu_and_press

pytestmark = pytest.mark.asterisk


@pytest.fixture
def admin_site(database_url: str, asterisk_sandbox: SandboxInfo) -> FlaskClient:
    """The staff site on the test database, applying to the sandbox through AMI."""
    return signed_in(sandbox_settings(asterisk_sandbox, database_url))


@pytest.fixture
def desk_phone(
    engine: Engine, admin_site: FlaskClient, asterisk_sandbox: SandboxInfo
) -> Iterator[SipPhone]:
    """operator1's desk phone, the one the queues ring; afterwards as the other tests expect."""
    settings = admin_site.application.config["CALLCARDS_SETTINGS"]
    sessions = make_session_factory(engine)
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == "operator1"))
        assert user is not None and user.extension == "101"
        user.phone_type = PhoneType.DESKPHONE.value
        session.commit()
        password = new_phone_password(admin_site, user)
        ringing_phones = replace(settings, member_interface="PJSIP/{extension}")
        assert apply_queues(session, ringing_phones).ok
    assert asterisk_sandbox.sip_port is not None
    yield SipPhone(asterisk_sandbox.sip_port, "101", password)
    with sessions() as session:
        back = session.get_one(User, user.id)
        back.phone_type, back.sip_password_digest, back.sip_password_set_at = (
            PhoneType.WEBRTC.value,
            None,
            None,
        )
        session.commit()
        assert apply_endpoints(session, settings).ok
        assert apply_queues(session, settings).ok  # Local test operators again


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox with the FastAGI server (and its listener) up."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        yield driver


async def answered_call(
    ami: AsteriskDriver, phone: PhoneLine, sessions: sessionmaker[Session]
) -> TestCall:
    """A caller presses 1 for appointments; the desk phone rings and answers."""
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    invite = await asyncio.to_thread(phone.wait_for_call)
    await asyncio.to_thread(phone.answer, invite)
    await wait_card(sessions, call.linkedid, lambda card: card.answered_at is not None)
    return call


async def test_operator_holds_the_caller_for_two_seconds_the_card_says_so(
    ami: AsteriskDriver, desk_phone: SipPhone, sessions: sessionmaker[Session]
) -> None:
    with desk_phone.online() as phone:
        call = await answered_call(ami, phone, sessions)
        await asyncio.sleep(1.0)  # they talk
        held = await asyncio.to_thread(phone.hold)
        await wait_card(sessions, call.linkedid, lambda card: "hold" in kinds(card))
        await asyncio.sleep(2.0)  # the caller hears music on hold
        resumed = await asyncio.to_thread(phone.resume)
        await wait_card(sessions, call.linkedid, lambda card: "unhold" in kinds(card))
        await asyncio.sleep(1.0)  # they talk again
        bye = await asyncio.to_thread(phone.hang_up)
        card = await wait_card(sessions, call.linkedid)

    assert (held.status, resumed.status, bye.status) == (200, 200, 200)
    assert "a=recvonly" in held.body  # Asterisk took the hold
    assert (card.status, card.end_reason, card.queue) == (
        "answered",
        "operator_hangup",
        "appointments",
    )
    holds = [event for event in card.events if event.kind in ("hold", "unhold")]
    assert [event.kind for event in holds] == ["hold", "unhold"]
    assert all(event.data["channel"].startswith("PJSIP/101-") for event in holds)
    assert card.hold_sec is not None and 1 <= card.hold_sec <= 4
    # Talk time is the whole answered time, hold included; hold time is counted apart.
    assert card.answered_at is not None and card.ended_at is not None
    answered_for = (card.ended_at - card.answered_at).total_seconds()
    assert card.talk_sec == round(answered_for) and card.talk_sec >= 4
    assert card.talk_sec > card.hold_sec


async def test_a_caller_who_hangs_up_on_hold_was_on_hold_until_the_hangup(
    ami: AsteriskDriver, desk_phone: SipPhone, sessions: sessionmaker[Session]
) -> None:
    with desk_phone.online() as phone:
        call = await answered_call(ami, phone, sessions)
        await asyncio.to_thread(phone.hold)
        await wait_card(sessions, call.linkedid, lambda card: "hold" in kinds(card))
        await asyncio.sleep(2.0)
        await ami.hangup(call)  # tired of the music
        card = await wait_card(sessions, call.linkedid)
        await asyncio.to_thread(phone.dialog_ended)

    assert (card.status, card.end_reason) == ("answered", "caller_hangup")
    assert card.hold_sec is not None and 1 <= card.hold_sec <= 4
    assert card.talk_sec is not None and card.talk_sec >= card.hold_sec
