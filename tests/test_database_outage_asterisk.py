"""Real calls through the sandbox Asterisk while our FastAGI server's PostgreSQL is away: the
server's own background replay lands each card once, and each card agrees with CEL."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callcards.demo import seed_demo
from callcards.sandbox import SandboxInfo
from models import AsteriskCel, Call, User, migrate
from models.session import make_engine, make_session_factory, transaction
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.conftest import ARTIFACTS, sandbox_ami_env, set_override
from tests.private_postgres import PrivatePostgres
from tests.waiting import DEADLINE, eventually

pytestmark = pytest.mark.asterisk

DID = "74951234567"
OPERATORS = {"101", "102"}
#: How far a card's time may be from Asterisk's own record of the same moment: the routes
#: note the time when the AGI step runs, CEL when the channel event happens.
SLACK_SEC = 2.0


@pytest.fixture
def private_agi(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, agi_port: int, tmp_path: Path
) -> Iterator[tuple[AgiProcess, PrivatePostgres]]:
    """`callcards agi` on the sandbox's AGI port, on a PostgreSQL of this test's own that it
    stops and starts (the session's server steps aside meanwhile; CEL stays where it was)."""
    agi_server.stop()
    postgres = PrivatePostgres()
    try:
        postgres.start()
        migrate.upgrade(postgres.url)
        engine = make_engine(postgres.url)
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session)
        set_override(make_session_factory(engine), "open")
        engine.dispose()
        log = ARTIFACTS / "callcards-agi-outage-asterisk.log"
        server = AgiProcess(
            postgres.url,
            Path(asterisk_sandbox.recordings_dir),
            agi_port,
            log,
            extra_env=sandbox_ami_env(asterisk_sandbox),
        )
        server.start()
        try:
            yield server, postgres
        finally:
            server.stop()
    finally:
        postgres.destroy()
        agi_server.start()


async def reach_menu_and_press(ami: AsteriskDriver, call: TestCall, keys: str) -> None:
    """Wait until the menu listens for keys, then press them."""
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)  # GET DATA starts the prompt; keys before it are dropped
    await ami.press(call, keys)


def cel_rows(sessions: sessionmaker[Session], call: TestCall) -> list[AsteriskCel]:
    """Asterisk's channel events of the call, in order."""
    with sessions() as session:
        return list(
            session.scalars(
                select(AsteriskCel)
                .where(AsteriskCel.linkedid == call.linkedid)
                .order_by(AsteriskCel.eventtime, AsteriskCel.id)
            )
        )


def first(rows: list[AsteriskCel], channel: str, kind: str) -> AsteriskCel:
    found = [row for row in rows if row.uniqueid == channel and row.eventtype == kind]
    assert found, f"no {kind} of {channel} in CEL"
    return found[0]


def seconds_apart(one: datetime | None, other: datetime | None) -> float:
    assert one is not None and other is not None
    return abs((one - other).total_seconds())


def assert_agrees_with_cel(
    card: Call, operator_extension: str | None, rows: list[AsteriskCel], call: TestCall
) -> None:
    """Status, operator, answer and end times, talk time and recording, as CEL has them."""
    caller = call.dialplan_id  # the half that ran our dialplan, queued, talked
    bridged = first(rows, caller, "BRIDGE_ENTER")
    hung_up = first(rows, caller, "HANGUP")
    monitor = first(rows, caller, "APP_START")
    monitors = [
        row
        for row in rows
        if row.uniqueid == caller and row.appname == "MixMonitor" and row.eventtype == "APP_START"
    ]
    assert monitor is not None and len(monitors) == 1
    assert card.status == "answered" and card.end_reason == "caller_hangup"
    assert operator_extension in OPERATORS
    assert re.search(rf"\b{operator_extension}\b", bridged.peer or ""), bridged.peer
    assert seconds_apart(card.answered_at, bridged.eventtime) <= SLACK_SEC
    assert seconds_apart(card.ended_at, hung_up.eventtime) <= SLACK_SEC
    cel_talk = (hung_up.eventtime - bridged.eventtime).total_seconds()  # type: ignore[operator]
    assert card.talk_sec is not None and abs(card.talk_sec - cel_talk) <= SLACK_SEC
    assert card.recording_path and card.recording_path in (monitors[0].appdata or "")
    kinds = [event.kind for event in card.events]
    for kind in ("call_started", "route", "answered", "hangup"):
        assert kinds.count(kind) == 1, (kind, kinds)


async def test_calls_while_the_database_is_away_get_true_cards_from_the_background_replay(
    private_agi: tuple[AgiProcess, PrivatePostgres],
    asterisk_sandbox: SandboxInfo,
    sessions: sessionmaker[Session],
) -> None:
    _, postgres = private_agi
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as ami:
        await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
        await ami.set_global("CC_TEST_TALK_TIME", "600")
        engine = make_engine(postgres.url)
        cards = make_session_factory(engine)
        # A: answered before the outage, hangs up while the database is away.
        a = await ami.call(DID, "79160000101")
        await reach_menu_and_press(ami, a, "1")
        await ami.wait_for_operator(a, "appointments")
        await wait_card(cards, a.linkedid, lambda card: card.answered_at is not None)
        engine.dispose()
        postgres.stop()
        try:
            # B: the whole call while the database is away.
            b = await ami.call(DID, "79160000102")
            await reach_menu_and_press(ami, b, "1")
            await ami.wait_for_operator(b, "appointments")
            await asyncio.sleep(2.0)  # they talk
            for call in (b, a):
                await ami.hangup(call)
                await ami.wait_hungup(call)
        finally:
            postgres.start()
    # Nobody calls replay: the server's own loop lands the journal once the database is back.
    engine = make_engine(postgres.url)
    cards = make_session_factory(engine)
    try:
        landed = {
            call.linkedid: await wait_card(
                cards,
                call.linkedid,
                lambda card: card.ended_at is not None and card.recording_state != "pending",
                timeout=3 * DEADLINE,
            )
            for call in (a, b)
        }
        with cards() as session:
            for call in (a, b):
                assert (
                    session.scalar(
                        select(func.count(Call.id)).where(Call.linkedid == call.linkedid)
                    )
                    == 1
                )
            extensions = {
                linkedid: session.scalar(select(User.extension).where(User.id == card.operator_id))
                for linkedid, card in landed.items()
            }
        for call in (a, b):
            await eventually(
                lambda call=call: any(  # type: ignore[misc]
                    row.eventtype == "LINKEDID_END" for row in cel_rows(sessions, call)
                ),
                what="CEL's end of the call",
                every=0.1,
            )
            card = landed[call.linkedid]
            assert_agrees_with_cel(card, extensions[call.linkedid], cel_rows(sessions, call), call)
            recording = Path(asterisk_sandbox.recordings_dir) / (card.recording_path or "")
            assert recording.stat().st_size > 44 and card.recording_state == "ok"
    finally:
        engine.dispose()
