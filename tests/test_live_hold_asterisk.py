"""Hold on the live floor: operator1's desk phone (PJSIP/101, tests/sip_phone.py) answers a
queue call, holds, resumes and hangs up; `callcards agi`'s floor listener, told that queues
ring PJSIP/{extension}, writes ringing, talking, hold, talking, ready (no wrap-up hold here).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.sandbox import SandboxInfo
from live.bus import EventKind
from models import User
from models.base import utcnow
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver
from tests.card_polling import wait_card
from tests.sip_phone import SipPhone
from tests.test_hold_asterisk import admin_site, answered_call, desk_phone  # noqa: F401
from tests.test_live_floor_asterisk import (
    described,
    events_after,
    first_event_id,
    floor_agi,
    floor_live,
    state_becomes,
    states_since,
)

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def desk_agi(
    database_url: str, asterisk_sandbox: SandboxInfo, agi_port: int, agi_server: AgiProcess
) -> Iterator[tuple[AgiProcess, datetime]]:
    """`callcards agi` whose floor knows operators' desk phones (PJSIP/<extension>), and
    the moment before it started."""
    agi_server.stop()
    started_at = utcnow()
    agi = floor_agi(database_url, asterisk_sandbox, agi_port, "PJSIP/{extension}")
    yield agi, started_at
    agi.stop()
    agi_server.start()


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo,
    desk_agi: tuple[AgiProcess, datetime],
    open_clinic: None,
    sessions: sessionmaker[Session],
) -> AsyncIterator[AsteriskDriver]:
    await floor_live(sessions, since=desk_agi[1])  # this process's floor
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        yield driver


async def test_an_operator_holds_a_queue_call_and_the_floor_shows_hold_between_talking(
    ami: AsteriskDriver,
    desk_phone: SipPhone,  # noqa: F811
    sessions: sessionmaker[Session],
) -> None:
    with sessions() as session:
        anna = session.scalars(select(User).where(User.extension == "101")).one()
    with desk_phone.online() as phone:
        await state_becomes(sessions, anna.id, lambda row: row.state == "ready")
        since, after = utcnow(), first_event_id(sessions)
        call = await answered_call(ami, phone, sessions)
        await state_becomes(sessions, anna.id, lambda row: row.state == "talking")
        await asyncio.to_thread(phone.hold)
        await state_becomes(sessions, anna.id, lambda row: row.state == "hold")
        await asyncio.sleep(1.0)
        await asyncio.to_thread(phone.resume)
        await state_becomes(sessions, anna.id, lambda row: row.state == "talking")
        await asyncio.to_thread(phone.hang_up)
        await wait_card(sessions, call.linkedid)
        await state_becomes(sessions, anna.id, lambda row: row.state == "ready")

    rows = states_since(sessions, anna.id, since)
    assert described(rows) == [
        ("ringing", None),
        ("talking", None),
        ("hold", None),
        ("talking", None),
        ("ready", None),
    ]
    assert all(row.linkedid == call.linkedid for row in rows[:4])
    assert all(a.ended_at == b.started_at for a, b in zip(rows, rows[1:], strict=False))
    ring = [e for e in events_after(sessions, after) if e.kind == EventKind.RINGING]
    assert [(e.user_id, e.data["linkedid"]) for e in ring] == [(anna.id, call.linkedid)]
