"""Virtual hold on a real Asterisk 22: a caller waiting with no free operator is offered a
callback, presses 1, gives a number, and the call ends "callback requested".

appointments offers the callback after 2 s (published and applied to the sandbox like an
admin's change); the test operators ring and never answer. The offer is app_queue's
periodic announcement (the sandbox's full log says when it plays), the key its
exit-to-context (queue_log EXITWITHKEY), the number the `callback` route's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from models import AsteriskCdr, Call, Queue
from models.flow import publish
from models.session import make_session_factory
from pbx.apply import apply_queues
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver, TestCall
from tests.card_polling import wait_card
from tests.sandbox_site import sandbox_settings

pytestmark = pytest.mark.asterisk

DID = "74951234567"
CALLER = "79161234567"
OFFER = {"after_sec": 2, "key": "1", "repeat_sec": 30, "prompt": "callcards/callback-offer"}
#: What full.log (verbose 3) says when app_queue plays the offer's file.
PLAYED = "Playing 'callcards/callback-offer."
#: The offer as the sandbox has it: core sounds joined into one file (GSM frames follow on),
#: "to call this number, press 1", standing in for the prompt a site uploads.
OFFER_PIECES = ("to-call-this-number", "vm-press", "digits/1")


def offer_callbacks(
    sessions: sessionmaker[Session], settings: Settings, offer: dict[str, object] | None
) -> None:
    """Publish appointments with this callback offer and apply it to Asterisk."""
    with sessions.begin() as session:
        session.execute(
            update(Queue).where(Queue.name == "appointments").values(callback_offer=offer)
        )
        publish(session, user_id=None, comment=f"test: appointments offers {offer}")
    with sessions() as session:
        result = apply_queues(session, settings)
    assert result.ok, result.error


@pytest.fixture(scope="module")
def offering(asterisk_sandbox: SandboxInfo, database_url: str, engine: Engine) -> Iterator[Path]:
    """appointments offers a callback after 2 s; the sandbox's full log (verbose 3)."""
    settings = sandbox_settings(asterisk_sandbox, database_url)
    assert settings.sounds_dir is not None
    sound = settings.sounds_dir / "callcards" / "callback-offer.gsm"
    sound.parent.mkdir(exist_ok=True)
    sound.write_bytes(
        b"".join((settings.sounds_dir / f"{piece}.gsm").read_bytes() for piece in OFFER_PIECES)
    )
    sessions = make_session_factory(engine)
    offer_callbacks(sessions, settings, OFFER)
    yield Path(asterisk_sandbox.log_dir)
    offer_callbacks(sessions, settings, None)
    sound.unlink()


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess, open_clinic: None, offering: Path
) -> AsyncIterator[AsteriskDriver]:
    """AMI on the sandbox; the operators ring and never answer (no free operator)."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.command("core set verbose 3")  # full.log then names the announcement
        await driver.set_global("CC_TEST_ANSWER_DELAY", "60")
        try:
            yield driver
        finally:
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")


def log_size(logs: Path) -> int:
    full = logs / "full.log"
    return full.stat().st_size if full.exists() else 0


async def offer_heard(logs: Path, since: int, timeout: float = 20) -> None:
    """Wait until app_queue plays the periodic announcement (the offer) after `since`."""
    deadline = time.monotonic() + timeout
    while True:
        with (logs / "full.log").open("rb") as full:
            full.seek(since)
            if PLAYED.encode() in full.read():
                return
        assert time.monotonic() < deadline, "the callback offer was never played"
        await asyncio.sleep(0.2)


async def wait_in_appointments(ami: AsteriskDriver, caller: str) -> TestCall:
    """A call to the clinic that presses 1 for appointments and waits there."""
    call = await ami.call(DID, caller)
    await next_prompt(ami, call)
    await ami.press(call, "1")
    await ami.wait_for_queue_join("appointments", call=call)
    return call


async def next_prompt(ami: AsteriskDriver, call: TestCall) -> None:
    """Wait until the caller is asked for keys (GET DATA); keys before it are dropped."""
    await ami.wait_for_agi(call, "GET DATA", timeout=30)
    await asyncio.sleep(0.3)


async def press_for_a_callback(ami: AsteriskDriver, logs: Path, caller: str) -> TestCall:
    """A caller waits in appointments, hears the offer, presses 1 and is asked for a number."""
    since = log_size(logs)
    call = await wait_in_appointments(ami, caller)
    await offer_heard(logs, since)
    await ami.press(call, "1")
    await next_prompt(ami, call)
    return call


def queue_log_exit(logs: Path, call: TestCall) -> list[str]:
    """The caller's queue_log line of leaving appointments with a key (its data fields)."""
    for line in (logs / "queue_log").read_text(errors="replace").splitlines():
        fields = line.split("|")
        if len(fields) > 4 and fields[1] == call.dialplan_id and fields[4] == "EXITWITHKEY":
            return fields[2:3] + fields[5:]
    raise AssertionError(f"queue_log has no EXITWITHKEY of {call.dialplan_id}")


async def cdrs_of(sessions: sessionmaker[Session], call: TestCall) -> list[AsteriskCdr]:
    """The CDR records of the caller's dialplan channel, once its last one is written."""
    deadline = time.monotonic() + 20
    while True:
        with sessions() as session:
            rows = list(
                session.scalars(
                    select(AsteriskCdr)
                    .where(AsteriskCdr.uniqueid == call.dialplan_id)
                    .order_by(AsteriskCdr.calldate, AsteriskCdr.id)
                )
            )
        if rows and not rows[-1].dstchannel:  # the record after the queue's dial attempts
            return rows
        assert time.monotonic() < deadline, f"no CDR of {call.dialplan_id}"
        await asyncio.sleep(0.2)


def cdr_span(rows: list[AsteriskCdr]) -> float:
    """Seconds from the first record's start to the last one's end."""
    last = rows[-1]
    assert rows[0].calldate is not None and last.calldate is not None
    end = last.calldate + timedelta(seconds=last.duration or 0)
    return (end - rows[0].calldate).total_seconds()


def timeline(card: Call, kind: str) -> list[dict[str, str]]:
    return [dict(event.data) for event in card.events if event.kind == kind]


async def test_a_caller_offered_a_callback_presses_1_and_confirms_their_number(
    ami: AsteriskDriver, sessions: sessionmaker[Session], offering: Path
) -> None:
    call = await press_for_a_callback(ami, offering, CALLER)  # "Telephone number 7 9 1 ..."
    await ami.press(call, "1")
    await ami.wait_hungup(call, timeout=30)
    card = await wait_card(sessions, call.linkedid)

    assert (card.status, card.end_reason) == ("callback_requested", "callback_requested")
    assert card.callback_number == CALLER and card.queue == "appointments"
    assert card.answered_at is None and card.operator_id is None
    assert timeline(card, "callback_requested") == [{"number": CALLER, "how": "confirmed"}]
    queue, key, *_ = queue_log_exit(offering, call)
    assert (queue, key) == ("appointments", "1")
    # Asterisk's CDR: the operators rang and nobody answered; the call lasted as the card says.
    rows = await cdrs_of(sessions, call)
    assert {row.disposition for row in rows if row.dstchannel} == {"NO ANSWER"}
    assert card.duration_sec is not None and abs(cdr_span(rows) - card.duration_sec) <= 1


async def test_a_caller_who_types_another_number_is_called_back_on_it(
    ami: AsteriskDriver, sessions: sessionmaker[Session], offering: Path
) -> None:
    call = await press_for_a_callback(ami, offering, CALLER)
    await ami.press(call, "74957654321#")
    await next_prompt(ami, call)  # "You entered 7 4 9 ... If this is correct, press 1"
    await ami.press(call, "1")
    card = await wait_card(sessions, call.linkedid, timeout=30)

    assert (card.status, card.callback_number) == ("callback_requested", "74957654321")
    assert timeline(card, "callback_requested") == [{"number": "74957654321", "how": "typed"}]
    assert queue_log_exit(offering, call)[:2] == ["appointments", "1"]


async def test_too_many_digits_then_none_fall_back_to_the_callers_own_number(
    ami: AsteriskDriver, sessions: sessionmaker[Session], offering: Path
) -> None:
    call = await press_for_a_callback(ami, offering, CALLER)
    await ami.press(call, "1234567890123456789")  # more than any number has
    await next_prompt(ami, call)  # asked again: silence, twice
    await next_prompt(ami, call)
    card = await wait_card(sessions, call.linkedid, timeout=40)

    assert (card.status, card.callback_number) == ("callback_requested", CALLER)
    assert timeline(card, "callback_requested") == [{"number": CALLER, "how": "caller_id"}]


async def test_an_anonymous_caller_who_types_nothing_goes_back_to_the_queue(
    ami: AsteriskDriver, sessions: sessionmaker[Session], offering: Path
) -> None:
    call = await press_for_a_callback(ami, offering, "anonymous")
    # "Please enter the number": nothing, three times; then back to appointments.
    for _ in range(2):
        await next_prompt(ami, call)
    await ami.wait_for(
        lambda e: e.event == "QueueCallerJoin" and e.uniqueid == call.dialplan_id,
        since=call.agi_cursor,
        timeout=40,
    )
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)

    assert (card.status, card.end_reason) == ("abandoned", "caller_hangup_queue")
    assert card.callback_number is None and not timeline(card, "callback_requested")


async def test_a_caller_who_hangs_up_while_confirming_keeps_the_request(
    ami: AsteriskDriver, sessions: sessionmaker[Session], offering: Path
) -> None:
    call = await press_for_a_callback(ami, offering, CALLER)
    await ami.hangup(call)
    card = await wait_card(sessions, call.linkedid)

    assert (card.status, card.callback_number) == ("callback_requested", CALLER)
    assert timeline(card, "callback_requested") == [{"number": CALLER, "how": "hangup"}]
    assert card.ended_at is not None and card.operator_id is None
