"""The AGI routes end to end on PostgreSQL, driven by a scripted Asterisk peer.

The same scenarios run against a real Asterisk 22 in test_calls_asterisk.py; these are
the fast ones, and the ones a real Asterisk cannot be made to do on demand (a database
that is gone, a crash inside routing).
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
import wave
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, select
from sqlalchemy.util import await_only

from callcards.config import load_settings
from fastagi.app import build_services
from fastagi.cards import CardRef, CardStore
from fastagi.changes import OpenCard
from fastagi.routes import ROUTES
from fastagi.server import FastAgiServer
from fastagi.services import AgiServices
from models import Call, User
from models.flow import latest_version, publish, replace_document
from tests.fake_asterisk import FakeChannel
from tests.waiting import DEADLINE, eventually

# Tuesday 2026-11-24 12:00 Moscow: the demo clinic is open.
OPEN_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Sunday: closed.
CLOSED_HOURS = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@pytest.fixture
async def agi(
    database_url: str, sessions, tmp_path: Path
) -> AsyncIterator[tuple[FastAgiServer, AgiServices]]:
    """Our FastAGI server with its real routes, on the test database, clock at OPEN_HOURS."""
    settings = replace(
        load_settings(
            {
                "DATABASE_URL": database_url,
                "RECORDINGS_DIR": str(tmp_path),
                "CALLCARDS_JOURNAL_DIR": str(tmp_path / "journal"),
            }
        ),
        settings_refresh_sec=0.0,
    )
    services = build_services(settings)
    services.clock = lambda: OPEN_HOURS
    services.recording_recheck_delays = (0.05, 0.05)
    routes = {name: functools.partial(route, services=services) for name, route in ROUTES.items()}
    server = FastAgiServer(routes, host="127.0.0.1", port=0)
    await server.start()
    SERVICES[server] = services
    yield server, services
    await server.stop(grace=1)
    del SERVICES[server]
    if services.background:
        await asyncio.wait(services.background, timeout=5)
    await services.writer.close()
    services.executor.shutdown(wait=True)


#: The services of each server the `agi` fixture started.
SERVICES: dict[FastAgiServer, AgiServices] = {}


async def run(server: FastAgiServer, channel: FakeChannel) -> dict[str, str]:
    """Play one AGI session; what the dialplan was told, once the card changes it made landed.

    The route stores its decision after handing it to the dialplan: the card gets it
    moments after the session ends.
    """
    variables = await channel.run("127.0.0.1", server.port)
    if server in SERVICES:
        await SERVICES[server].settled()
    return variables


def card_of(sessions, linkedid: str) -> Call:
    with sessions() as session:
        card = session.scalar(select(Call).where(Call.linkedid == linkedid))
        assert card is not None, f"no card for {linkedid}"
        card.events  # noqa: B018 (load the timeline before the session closes)
        return card


async def test_caller_presses_1_gets_appointments_queue_and_a_ringing_card(agi, sessions) -> None:
    server, _ = agi
    variables = await run(server, FakeChannel("incoming", uniqueid="r1.1", keys=["1"]))
    card = card_of(sessions, "r1.1")
    assert variables["CC_ACTION"] == "queue"
    assert variables["CC_QUEUE"] == "appointments"
    assert variables["CC_CARD_ID"] == str(card.id)
    assert variables["CC_RECORDING"] == card.recording_path == "2026/11/24/r1.1.wav"
    assert int(variables["CC_QUEUE_TIMEOUT"]) > 0
    assert card.status == "ringing" and card.queue == "appointments"
    assert card.src_number == "+79161234567" and card.did == "74951234567"
    assert card.did_source == "Яндекс.Директ" and card.did_city == "Москва"
    assert card.ivr_path and "1" in card.ivr_path
    assert card.queue_entered_at == OPEN_HOURS
    assert "ivr_key" in [event.kind for event in card.events]


async def test_ringing_operator_is_marked_for_the_screen_pop(agi, sessions) -> None:
    server, _ = agi
    await run(server, FakeChannel("incoming", uniqueid="r10.1", keys=["1"]))
    await run(
        server,
        FakeChannel("ringing", uniqueid="r10.2", linkedid="r10.1", channel="PJSIP/102-0000002a"),
    )
    ringing = card_of(sessions, "r10.1")
    await run(
        server,
        FakeChannel("answered", uniqueid="r10.1", variables={"MEMBERINTERFACE": "PJSIP/102"}),
    )
    await run(server, FakeChannel("hangup", uniqueid="r10.1", dead=True))
    closed = card_of(sessions, "r10.1")
    assert (ringing.ringing_extension, ringing.ringing_at) == ("102", OPEN_HOURS)
    assert "operator_rang" in [event.kind for event in ringing.events]
    assert closed.ringing_extension is None


async def test_full_life_answered_by_operator_then_caller_hangs_up(agi, sessions) -> None:
    server, services = agi
    await run(server, FakeChannel("incoming", uniqueid="r2.1", keys=["1"]))
    variables = await run(
        server,
        FakeChannel(
            "answered",
            uniqueid="r2.1",
            variables={"MEMBERINTERFACE": "Local/101@cc-test-operators/n"},
        ),
    )
    services.clock = lambda: OPEN_HOURS.replace(minute=2)
    await run(server, FakeChannel("hangup", uniqueid="r2.1", dead=True))
    card = card_of(sessions, "r2.1")
    with sessions() as session:
        operator = session.get_one(User, card.operator_id)
    assert variables["CC_OPERATOR"] == "101" and operator.extension == "101"
    assert (card.status, card.end_reason) == ("answered", "caller_hangup")
    assert (card.duration_sec, card.talk_sec) == (120, 120)
    assert card.ended_at is not None and card.recording_state == "pending"
    await asyncio.wait(services.background, timeout=5)  # the re-checks after the hangup
    assert card_of(sessions, "r2.1").recording_state == "missing"


async def test_caller_hanging_up_in_the_menu_makes_an_abandoned_card(agi, sessions) -> None:
    server, _ = agi
    variables = await run(server, FakeChannel("incoming", uniqueid="r3.1", hang_up_at_get_data=0))
    await run(server, FakeChannel("hangup", uniqueid="r3.1", dead=True))
    card = card_of(sessions, "r3.1")
    assert "CC_ACTION" not in variables
    assert (card.status, card.end_reason) == ("abandoned", "caller_hangup_ivr")
    assert (card.recording_path, card.recording_state) == (None, "none")


async def test_queue_timeout_makes_a_missed_card(agi, sessions) -> None:
    server, _ = agi
    await run(server, FakeChannel("incoming", uniqueid="r4.1", keys=["2"]))
    await run(
        server,
        FakeChannel(
            "hangup",
            uniqueid="r4.1",
            dead=True,
            variables={"QUEUESTATUS": "TIMEOUT", "CC_QUEUE_RETURNED": "1"},
        ),
    )
    card = card_of(sessions, "r4.1")
    assert (card.status, card.end_reason, card.queue) == ("missed", "queue_timeout", "reception")


def played(channel: FakeChannel) -> list[str]:
    """The sounds a route played on the channel."""
    return [words[2] for words in channel.commands if words[:2] == ["STREAM", "FILE"]]


def overflow_step(card: Call) -> dict[str, str]:
    """The card's (first) queue_overflow event's data."""
    return next(event.data for event in card.events if event.kind == "queue_overflow")


async def queue_gives_back(
    server: FastAgiServer, uniqueid: str, key: str, queue: str, status: str, overflows: int = 1
) -> tuple[FakeChannel, dict[str, str]]:
    """A caller presses `key`; `queue` then returns with `status`: the overflow route's answer."""
    first = await run(server, FakeChannel("incoming", uniqueid=uniqueid, keys=[key]))
    channel = FakeChannel(
        "overflow",
        uniqueid=uniqueid,
        variables={
            "CC_QUEUE": queue,
            "QUEUESTATUS": status,
            "CC_OVERFLOWS": str(overflows),
            "CC_RECORDING": first["CC_RECORDING"],
        },
    )
    return channel, await run(server, channel)


async def test_an_empty_queue_overflows_and_the_second_queue_answers(agi, sessions) -> None:
    server, _ = agi
    channel, variables = await queue_gives_back(server, "r20.1", "1", "appointments", "JOINEMPTY")
    overflowed = card_of(sessions, "r20.1")
    await run(
        server,
        FakeChannel("answered", uniqueid="r20.1", variables={"MEMBERINTERFACE": "PJSIP/102"}),
    )
    await run(server, FakeChannel("hangup", uniqueid="r20.1", dead=True))
    card = card_of(sessions, "r20.1")

    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "reception")
    assert variables["CC_QUEUE_TIMEOUT"] == "120"
    assert variables["CC_RECORDING"] == "2026/11/24/r20.1.wav"  # one recording, still going
    assert played(channel) == []
    assert overflowed.queue == "reception" and overflowed.status == "ringing"
    assert (card.status, card.end_reason, card.queue) == ("answered", "caller_hangup", "reception")
    step = overflow_step(card)
    assert (step["from_queue"], step["to_queue"], step["queue_status"]) == (
        "appointments",
        "reception",
        "JOINEMPTY",
    )


async def test_a_queue_whose_wait_runs_out_says_sorry_and_misses_the_call(agi, sessions) -> None:
    server, _ = agi
    channel, variables = await queue_gives_back(server, "r21.1", "2", "reception", "TIMEOUT")
    await run(
        server,
        FakeChannel(
            "hangup",
            uniqueid="r21.1",
            dead=True,
            variables={"QUEUESTATUS": "TIMEOUT", "CC_QUEUE_RETURNED": "1", "CC_QUEUE_ENTERED": "1"},
        ),
    )
    card = card_of(sessions, "r21.1")
    assert variables["CC_ACTION"] == "hangup" and "CC_QUEUE_TIMEOUT" not in variables
    assert played(channel) == ["im-sorry"]  # the demo clinic's reception: sorry, then hang up
    assert (card.status, card.end_reason, card.queue) == ("missed", "queue_timeout", "reception")
    step = overflow_step(card)
    assert (step["action"], step["message"], step["reason"]) == (
        "hangup",
        "im-sorry",
        "overflow_timeout",
    )


async def test_overflows_stop_after_the_cap_whatever_the_flow_says(agi, sessions) -> None:
    server, _ = agi
    channel, variables = await queue_gives_back(
        server, "r22.1", "1", "appointments", "JOINEMPTY", overflows=4
    )
    assert variables["CC_ACTION"] == "hangup"
    assert played(channel) == []
    assert overflow_step(card_of(sessions, "r22.1"))["reason"] == "overflow_limit"


async def test_closed_hours_play_the_message_and_miss_the_call(agi, sessions) -> None:
    server, services = agi
    services.clock = lambda: CLOSED_HOURS
    channel = FakeChannel("incoming", uniqueid="r5.1")
    variables = await run(server, channel)
    await run(server, FakeChannel("hangup", uniqueid="r5.1", dead=True))
    card = card_of(sessions, "r5.1")
    played = [words[2] for words in channel.commands if words[:2] == ["STREAM", "FILE"]]
    assert variables["CC_ACTION"] == "hangup"
    assert played == ["vm-goodbye"]  # the demo clinic's closed-hours message
    assert not any(words[:2] == ["GET", "DATA"] for words in channel.commands)
    assert (card.status, card.end_reason) == ("missed", "closed_hours")
    assert "closed_hours" in [event.kind for event in card.events]
    # Never queued, never recorded: the card says so instead of "missing".
    assert (card.recording_path, card.recording_state) == (None, "none")


async def test_unknown_did_goes_to_the_default_queue(agi, sessions) -> None:
    server, _ = agi
    variables = await run(server, FakeChannel("incoming", uniqueid="r6.1", extension="70000000000"))
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "reception")
    assert card_of(sessions, "r6.1").did == "70000000000"


async def test_transfer_to_a_second_queue_keeps_one_card(agi, sessions) -> None:
    server, _ = agi
    await run(server, FakeChannel("incoming", uniqueid="r7.1", keys=["1"]))
    await run(
        server, FakeChannel("answered", uniqueid="r7.1", variables={"MEMBERINTERFACE": "PJSIP/101"})
    )
    variables = await run(
        server, FakeChannel("transfer", uniqueid="r7.9", linkedid="r7.1", args=["reception"])
    )
    card = card_of(sessions, "r7.1")
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "reception")
    assert variables["CC_CARD_ID"] == str(card.id)
    assert card.queue == "reception"
    transfer = next(event for event in card.events if event.kind == "transferred")
    assert transfer.data["from_queue"] == "appointments"


async def test_outbound_call_gets_a_card_with_its_operator(agi, sessions) -> None:
    server, _ = agi
    variables = await run(
        server, FakeChannel("outbound", uniqueid="r8.1", caller_id="102", extension="84951112233")
    )
    await run(
        server, FakeChannel("hangup", uniqueid="r8.1", dead=True, variables={"DIALSTATUS": "BUSY"})
    )
    card = card_of(sessions, "r8.1")
    assert variables["CC_RECORDING"] == card.recording_path
    assert (card.direction, card.status, card.dst_number) == ("outbound", "busy", "84951112233")


async def test_with_the_database_gone_the_call_still_gets_a_queue(tmp_path) -> None:
    settings = load_settings(
        {
            "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
            "RECORDINGS_DIR": str(tmp_path),
            "CALLCARDS_JOURNAL_DIR": str(tmp_path / "journal"),
        }
    )
    services = build_services(settings)
    routes = {name: functools.partial(route, services=services) for name, route in ROUTES.items()}
    server = FastAgiServer(routes, host="127.0.0.1", port=0)
    await server.start()
    try:
        variables = await run(server, FakeChannel("incoming", uniqueid="r9.1", keys=["1"]))
    finally:
        await server.stop(grace=1)
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "reception")
    assert variables["CC_RECORDING"].endswith("/r9.1.wav")


async def test_a_stuck_database_step_does_not_hold_the_call(agi, sessions, monkeypatch) -> None:
    server, services = agi
    services.db_timeout = STEP_DEADLINE
    release = held_opening(monkeypatch)  # the database answers only after the call went on
    variables = await FakeChannel("incoming", uniqueid="r11.1", keys=["1"]).run(
        "127.0.0.1", server.port
    )
    release.set()
    await services.settled()
    assert card_of(sessions, "r11.1").queue == "appointments"
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "appointments")
    # The file name does not wait for the database: the card, written late, names it too.
    assert variables["CC_RECORDING"] == "2026/11/24/r11.1.wav"


async def test_the_late_card_of_a_stuck_step_is_whole_and_in_order(
    agi, sessions, caplog, monkeypatch
) -> None:
    server, services = agi
    services.db_timeout = STEP_DEADLINE
    services.timeouts.every = 0.05
    release = held_opening(monkeypatch)  # the database answers only after the hangups
    calls = [FakeChannel("incoming", uniqueid=f"r14.{n}", keys=["1"]) for n in range(3)]
    told = await asyncio.gather(*(call.run("127.0.0.1", server.port) for call in calls))
    # The callers went on at once; their hangups come while the cards are still being opened.
    await asyncio.gather(
        *(
            FakeChannel("hangup", uniqueid=f"r14.{n}", dead=True).run("127.0.0.1", server.port)
            for n in range(3)
        )
    )
    release.set()
    await services.settled()
    assert all(
        "CC_CARD_ID" not in variables and variables["CC_QUEUE"] == "appointments"
        for variables in told
    )
    for n in range(3):
        card = card_of(sessions, f"r14.{n}")
        assert (card.queue, card.ivr_path, card.status) == ("appointments", "main > 1", "abandoned")
        kinds = [event.kind for event in card.events]
        assert kinds[0] == "call_started" and kinds.index("route") < kinds.index("hangup")
    # The summary comes at most once per `every`: wait for it to count all six.
    summaries: list[str] = []

    def summed_up() -> bool:
        summaries[:] = [
            record.message for record in caplog.records if "went on without" in record.message
        ]
        return sum(int(line.split()[0]) for line in summaries) >= 6

    await eventually(summed_up, what="the summary of the waits that ran out")
    # Six waits ran out (three openings, then the three hangups behind them), summed up by
    # kind in fewer lines than waits (how they fall into lines depends on the machine's
    # pace), with no traceback.
    by_kind: dict[str, int] = {}
    for line in summaries:
        for kind, count in re.findall(r"([a-z ]+): (\d+)", line.split("(", 1)[1]):
            by_kind[kind.strip()] = by_kind.get(kind.strip(), 0) + int(count)
    assert sum(int(line.split()[0]) for line in summaries) == 6
    assert by_kind == {"open the card": 3, "close the card": 3}
    assert len(summaries) < 6
    assert not any(record.exc_info for record in caplog.records)


async def test_a_full_pool_sends_card_changes_to_the_journal_not_a_queue(agi, sessions) -> None:
    server, services = agi
    services.max_queued = 0  # every change finds the pool full
    variables = await run(server, FakeChannel("incoming", uniqueid="r15.1", keys=["1"]))
    await run(server, FakeChannel("hangup", uniqueid="r15.1", dead=True))
    assert variables["CC_QUEUE"] == "appointments"
    assert services.cards.journal.active
    with sessions() as session:
        assert session.scalar(select(Call).where(Call.linkedid == "r15.1")) is None
    await services.db(services.cards.replay)
    card = card_of(sessions, "r15.1")
    assert (card.queue, card.status) == ("appointments", "abandoned")
    assert [event.kind for event in card.events][-2:] == ["route", "hangup"]
    # Reading a card is no change to keep: a transfer still finds it with the pool full.
    variables = await run(
        server, FakeChannel("transfer", uniqueid="r15.2", linkedid="r15.1", args=["reception"])
    )
    assert variables["CC_CARD_ID"] == str(card.id)


async def test_a_call_that_started_while_the_server_was_down_gets_a_late_card(
    agi, sessions
) -> None:
    server, _ = agi
    await run(
        server,
        FakeChannel(
            "hangup",
            uniqueid="r12.1",
            dead=True,
            variables={
                "QUEUESTATUS": "CONTINUE",
                "CC_QUEUE_ENTERED": "1",
                "CC_QUEUE": "reception",
                "MEMBERINTERFACE": "Local/102@cc-test-operators/n",
                "CC_RECORDING": "fallback/2026/11/24/r12.1.wav",
                "CDR(duration)": "95",
            },
        ),
    )
    card = card_of(sessions, "r12.1")
    assert (card.status, card.queue, card.recording_path) == (
        "answered",
        "reception",
        "fallback/2026/11/24/r12.1.wav",
    )
    assert card.duration_sec == 95 and card.operator_id is not None
    assert "card_created_late" in [event.kind for event in card.events]


async def test_the_recording_announcement_is_played_before_the_menu(agi, sessions) -> None:
    server, _ = agi
    with sessions.begin() as session:
        document = latest_version(session).document  # type: ignore[union-attr]
        publish_document(session, {**document, "recording_announcement": "callcards/recorded"})
    try:
        channel = FakeChannel("incoming", uniqueid="r13.1", keys=["1"])
        variables = await run(server, channel)
    finally:
        with sessions.begin() as session:
            publish_document(session, document)
    commands = [
        words[:3]
        for words in channel.commands
        if words[:2] in (["STREAM", "FILE"], ["GET", "DATA"])
    ]
    assert commands[:2] == [["STREAM", "FILE", "callcards/recorded"], ["GET", "DATA", "hello"]]
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "appointments")


def publish_document(session, document) -> None:  # type: ignore[no-untyped-def]
    """Publish a flow document as the site does (the draft tables, then a version)."""
    replace_document(session, document)
    publish(session, user_id=None, comment="test: recording announcement")


def write_message(path: Path, seconds: float) -> None:
    """A wav file as Record() leaves it: 8 kHz, 16-bit mono (0 s: the header alone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        audio.writeframes(b"\x01\x00" * int(8000 * seconds))


async def closed_voicemail_call(  # type: ignore[no-untyped-def]
    agi, sessions, uniqueid: str, seconds: float, old_dialplan: bool = False
) -> Call:
    """A Sunday call to a clinic that takes messages; the caller leaves `seconds` of speech.

    `old_dialplan`: the hangup handler passes no arguments (a dialplan from before them).
    """
    server, services = agi
    services.clock = lambda: CLOSED_HOURS
    with sessions() as session:
        document = latest_version(session).document
    schedule = {
        **document["schedules"][0],
        "closed_action": {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 90},
    }
    with sessions.begin() as session:
        publish_document(session, {**document, "schedules": [schedule]})
    try:
        channel = FakeChannel("incoming", uniqueid=uniqueid)
        variables = await run(server, channel)
    finally:
        with sessions.begin() as session:
            publish_document(session, document)
    played = [words[2] for words in channel.commands if words[:2] == ["STREAM", "FILE"]]
    assert played == ["vm-intro"]  # the greeting, before the dialplan beeps and records
    assert (variables["CC_ACTION"], variables["CC_MESSAGE_MAX_SEC"]) == ("voicemail", "90")
    assert variables["CC_RECORDING"] == f"2026/11/22/{uniqueid}.wav"
    write_message(services.cards.store._recordings.root / variables["CC_RECORDING"], seconds)
    await run(
        server,
        FakeChannel(
            "hangup",
            uniqueid=uniqueid,
            dead=True,
            old_dialplan=old_dialplan,
            variables={
                "CC_ACTION": "voicemail",
                "CC_RECORDING": variables["CC_RECORDING"],
                "RECORD_STATUS": "HANGUP",
            },
        ),
    )
    await eventually(
        lambda: card_of(sessions, uniqueid).recording_state != "pending",
        what=f"the recording of {uniqueid} settling",
        every=0.05,
    )
    return card_of(sessions, uniqueid)


async def test_closed_hours_voicemail_keeps_the_message_as_the_card_recording(
    agi, sessions
) -> None:
    card = await closed_voicemail_call(agi, sessions, "r20.1", 3)
    assert (card.status, card.end_reason, card.needs_callback) == ("missed", "closed_hours", True)
    assert (card.recording_path, card.recording_state) == ("2026/11/22/r20.1.wav", "ok")
    # The default queue's to call back (its staff see it), never offered: not queued.
    assert card.queue == "reception" and card.queue_entered_at is None
    message = [event.data for event in card.events if event.kind == "message_left"]
    assert message == [{"seconds": "3", "record_status": "HANGUP"}]


async def test_closed_hours_caller_who_says_nothing_leaves_an_empty_message(agi, sessions) -> None:
    card = await closed_voicemail_call(agi, sessions, "r21.1", 0)
    assert (card.status, card.end_reason, card.needs_callback) == ("missed", "closed_hours", False)
    assert card.recording_state == "empty"
    assert "message_left" not in [event.kind for event in card.events]
    assert [event.data for event in card.events if event.kind == "no_message"] == [
        {"seconds": "0", "record_status": "HANGUP"}
    ]


#: How long a route waits for a database step in the tests of a stuck step: long enough
#: for every step that is not held to land on a busy machine.
STEP_DEADLINE = 2.0


def held_opening(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """The database writes each new card only once the test sets the event it returns."""
    release = threading.Event()
    real_opened = OpenCard._opened

    def open_late(
        self: OpenCard, store: CardStore, db: Connection, row: tuple[int, str | None, bool]
    ) -> CardRef:
        # Stands for a database that does not answer: the writer (asyncpg, in the event
        # loop) awaits it, as it awaits every statement.
        await_only(asyncio.to_thread(release.wait, DEADLINE))
        return real_opened(self, store, db, row)

    monkeypatch.setattr(OpenCard, "_opened", open_late)
    return release


def noted_opening(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """An event set once a card lookup or opening has come back from the database."""
    opened = threading.Event()
    real_opened = OpenCard._opened

    def open_and_note(
        self: OpenCard, store: CardStore, db: Connection, row: tuple[int, str | None, bool]
    ) -> CardRef:
        try:
            return real_opened(self, store, db, row)
        finally:
            opened.set()

    monkeypatch.setattr(OpenCard, "_opened", open_and_note)
    return opened


async def test_a_reserved_id_names_the_card_before_it_is_written(
    agi, sessions, monkeypatch
) -> None:
    server, services = agi
    await services.reserve_card_ids()
    services.db_timeout = STEP_DEADLINE
    release = held_opening(monkeypatch)  # the call could never wait for this card
    channel = FakeChannel("incoming", uniqueid="r30.1", keys=["1"])
    variables = await channel.run("127.0.0.1", server.port)
    release.set()
    await services.settled()
    card = card_of(sessions, "r30.1")
    assert variables["CC_CARD_ID"] == str(card.id)
    assert (variables["CC_ACTION"], variables["CC_QUEUE"]) == ("queue", "appointments")
    assert variables["CC_RECORDING"] == card.recording_path == "2026/11/24/r30.1.wav"
    # The dialplan passed the linkedid: nobody asked for it.
    assert ["GET", "FULL", "VARIABLE", "${CHANNEL(linkedid)}"] not in channel.commands


async def test_a_second_channel_of_a_carded_call_is_told_the_card_it_has(
    agi, sessions, monkeypatch
) -> None:
    server, services = agi
    await run(server, FakeChannel("incoming", uniqueid="r31.1", keys=["1"]))
    first = card_of(sessions, "r31.1")
    await services.reserve_card_ids()
    opened = noted_opening(monkeypatch)
    # The caller is still in the menu when the card is found: it is known before the end.
    key_when = asyncio.Event()
    channel = FakeChannel(
        "incoming", uniqueid="r31.2", linkedid="r31.1", keys=["1"], key_when=key_when
    )
    session = asyncio.create_task(run(server, channel))
    await asyncio.to_thread(opened.wait, DEADLINE)
    await services.settled()  # the writer has handed the found card back to the route
    key_when.set()
    variables = await session
    assert variables["CC_CARD_ID"] == str(first.id)


async def test_a_channel_told_a_reserved_id_ends_naming_the_card_it_has(
    agi, sessions, monkeypatch
) -> None:
    server, services = agi
    await run(server, FakeChannel("incoming", uniqueid="r32.1", keys=["1"]))
    first = card_of(sessions, "r32.1")
    await services.reserve_card_ids()
    release = held_opening(monkeypatch)  # the session ends before the card is looked up
    told = await FakeChannel("incoming", uniqueid="r32.2", linkedid="r32.1", keys=["1"]).run(
        "127.0.0.1", server.port
    )
    release.set()
    await services.settled()
    assert told["CC_CARD_ID"] != str(first.id)
    hangup = FakeChannel(
        "hangup", uniqueid="r32.2", linkedid="r32.1", dead=True, variables=dict(told)
    )
    variables = await run(server, hangup)
    assert variables["CC_CARD_ID"] == str(first.id)
    assert card_of(sessions, "r32.1").id == first.id
    with sessions() as session:
        assert session.scalar(select(Call).where(Call.id == int(told["CC_CARD_ID"]))) is None


async def test_a_channel_sent_back_to_incoming_keeps_its_card_and_file(agi, sessions) -> None:
    server, services = agi
    await services.reserve_card_ids()
    first = await run(server, FakeChannel("incoming", uniqueid="r33.1", keys=["1"]))
    # The same channel again (a redirect to from-trunk): it passes the card it was told.
    services.clock = lambda: OPEN_HOURS.replace(day=25)
    again = await run(
        server, FakeChannel("incoming", uniqueid="r33.1", keys=["1"], variables=dict(first))
    )
    card = card_of(sessions, "r33.1")
    assert again["CC_CARD_ID"] == first["CC_CARD_ID"] == str(card.id)
    assert again["CC_RECORDING"] == card.recording_path == "2026/11/24/r33.1.wav"


async def test_a_dialplan_without_arguments_still_gets_its_answers(agi, sessions) -> None:
    server, _ = agi
    incoming = FakeChannel(
        "incoming", uniqueid="r34.1", linkedid="r34.0", keys=["1"], old_dialplan=True
    )
    variables = await run(server, incoming)
    hangup = FakeChannel(
        "hangup",
        uniqueid="r34.1",
        linkedid="r34.0",
        dead=True,
        old_dialplan=True,
        variables=dict(variables),
    )
    await run(server, hangup)
    card = card_of(sessions, "r34.0")
    assert variables["CC_CARD_ID"] == str(card.id) and card.status == "abandoned"
    assert incoming.commands[0] == ["GET", "FULL", "VARIABLE", "${CHANNEL(linkedid)}"]
    asked = [words[2] for words in hangup.commands if words[:2] == ["GET", "VARIABLE"]]
    assert asked[-2:] == ["CC_CARD_ID", "CC_ACTION"]


async def test_a_voicemail_told_without_arguments_still_notes_the_message(agi, sessions) -> None:
    card = await closed_voicemail_call(agi, sessions, "r35.1", 2, old_dialplan=True)
    assert (card.needs_callback, card.recording_state) == (True, "ok")
    assert "message_left" in [event.kind for event in card.events]
