"""Card changes as typed objects: checked before they run, kept by the journal as they are,
written many to a transaction by the card writer."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from fastagi.cards import CardStore, Event, HangupReport, NewCall
from fastagi.cel import CallFacts
from fastagi.changes import (
    CHANGES,
    AnswerCorrected,
    Answered,
    CallbackRequested,
    CardChange,
    CardRead,
    Closed,
    ClosedFromCel,
    ClosedUnexplained,
    EventsAdded,
    HoldChanged,
    HungUp,
    MessageLeft,
    OpenCard,
    RecordingChecked,
    Ringing,
    RouteDecided,
    TransferredAttended,
)
from fastagi.journal import Journal, JournaledCards, Operation, Queued
from fastagi.outcome import Outcome
from fastagi.writer import CardWriter
from models import Call, Direction, Status
from recordings import RecordingStore

REPO = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def new_call(linkedid: str) -> NewCall:
    return NewCall(
        linkedid,
        linkedid,
        Direction.INBOUND,
        T0,
        "+79161234567",
        "74951234567",
        did="74951234567",
        caller_name="Иванов",
    )


def one_of_each() -> dict[str, CardChange[Any]]:
    """A change of every class, with every kind of field set."""
    new = new_call("each.1")
    report = HangupReport(
        call=new,
        ended_at=T0 + timedelta(seconds=80),
        cause="16",
        member="PJSIP/101",
        member_answered_at=T0 + timedelta(seconds=20),
    )
    facts = CallFacts(
        "each.1",
        "each.1",
        T0,
        "+79161234567",
        None,
        "74951234567",
        "appointments",
        T0 + timedelta(seconds=5),
        T0 + timedelta(seconds=20),
        "PJSIP/101-1",
        T0 + timedelta(seconds=80),
        "PJSIP/trunk",
        "16",
        "2026/11/23/each.1.wav",
        True,
    )
    changes: list[CardChange[Any]] = [
        OpenCard(new, [Event("call_started", T0, {"did": "74951234567"}, "each.1")], card_id=7),
        RouteDecided(
            "each.1",
            queue="appointments",
            ivr_path="main > 1",
            did_source="Яндекс",
            did_city=None,
            events=[Event("ivr_key", T0, {"digits": "1"})],
            end_reason=None,
            queue_entered_at=T0,
            recorded=True,
        ),
        Ringing("each.1", extension="101", channel="PJSIP/101-1", at=T0),
        Answered("each.1", extension=None, interface="PJSIP/101", at=T0),
        EventsAdded("each.1", [Event("transferred", T0, {"to_queue": "reception"})]),
        HoldChanged("each.1", Event("hold", T0, {"channel": "PJSIP/101-1"}, "op.1")),
        TransferredAttended(
            "each.1",
            to_queue="reception",
            extension="102",
            interface="PJSIP/102",
            at=T0,
            channel_uniqueid="each.2",
        ),
        HungUp(report, settled=True),
        Closed("each.1", Outcome(Status.MISSED, "closed_hours"), ended_at=T0, data={"a": "b"}),
        MessageLeft("each.1", at=T0, record_status="HANGUP"),
        RecordingChecked("each.1", final=True),
        CardRead("each.1"),
        ClosedFromCel(report),
        ClosedUnexplained("each.1", ended_at=T0, reason="no_asterisk_record"),
        AnswerCorrected(facts),
        CallbackRequested("each.1", number="79161234567", at=T0, how="typed"),
    ]
    return {type(change).__name__: change for change in changes}


def test_every_change_comes_back_from_its_journal_line_as_it_was() -> None:
    samples = one_of_each()
    assert set(samples) == set(CHANGES)  # a new change class needs its sample here
    for change in samples.values():
        line = Operation("id", 1, change).to_line()
        assert Operation.from_line(line).change == change


def test_a_misspelt_keyword_fails_when_the_change_is_made() -> None:
    with pytest.raises(TypeError, match="extention"):
        Answered("a.1", extention="101", interface=None, at=T0)  # type: ignore[call-arg]


def test_two_changes_of_one_name_fail_at_import() -> None:
    with pytest.raises(TypeError, match="two card changes are called Answered"):
        type("Answered", (CardChange,), {})


def test_mypy_rejects_a_misspelt_change_and_a_result_used_as_the_wrong_type(
    tmp_path: Path,
) -> None:
    code = tmp_path / "misspelt.py"
    code.write_text(
        "from datetime import datetime\n"
        "from fastagi.changes import Answered, Ringing, Answerd\n"
        "from fastagi.services import AgiServices\n"
        "async def route(services: AgiServices) -> None:\n"
        "    services.change_card('a.1', Ringing('a.1', extension='1', chanel='x',"
        " at=datetime.now()))\n"
        "    operator: str | None = await services.card('x', 'a.1', Answered("
        "'a.1', extension=None, interface=None, at=datetime.now()))\n"
        "    services.change_card('a.1', 'answered')\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), str(code)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    errors = checked.stdout
    assert 'Module "fastagi.changes" has no attribute "Answerd"' in errors
    assert 'Unexpected keyword argument "chanel" for "Ringing"' in errors
    # Answered gives an operator's id (int | None), not a str.
    assert 'incompatible type "Answered"; expected "CardChange[str | None]"' in errors
    assert 'Argument 2 to "change_card" of "AgiServices" has incompatible type "str"' in errors


def test_a_journal_written_by_the_previous_version_replays_after_the_upgrade(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """Its lines name card-store methods and their arguments (fastagi before typed changes)."""
    path = tmp_path / "cards.journal"
    shutil.copy(REPO / "tests" / "data" / "cards-method-lines.journal", path)
    cards = JournaledCards(CardStore(sessions, RecordingStore(tmp_path)), Journal(path))
    assert cards.replay() == 8
    assert not cards.journal.active
    with sessions() as session:
        card = session.scalar(
            select(Call).options(selectinload(Call.events)).where(Call.linkedid == "old.1")
        )
    assert card is not None
    assert (card.status, card.queue, card.ivr_path) == ("answered", "appointments", "main > 1")
    assert (card.wait_sec, card.talk_sec, card.hold_sec, card.duration_sec) == (10, 60, 10, 80)
    assert card.ringing_extension is None and card.operator_id is not None
    assert card.recording_state == "missing"  # the final check: no file was ever written
    assert [event.kind for event in card.events] == [
        "call_started",
        "ivr_key",
        "operator_rang",
        "answered",
        "hold",
        "unhold",
        "hangup",
    ]


def test_a_change_that_fails_alone_does_not_sink_its_batch(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    cards = JournaledCards(
        CardStore(sessions, RecordingStore(tmp_path)), Journal(tmp_path / "cards.journal")
    )
    batch = [
        Queued(OpenCard(new_call("batch.1"))),
        Queued(Answered("no-such-call", extension="101", interface="PJSIP/101", at=T0)),
        Queued(Answered("batch.1", extension="101", interface="PJSIP/101", at=T0)),
        Queued(CardRead("batch.1")),
    ]
    opened, failed, operator, read = cards.apply_batch(batch)
    assert opened.created and isinstance(failed, LookupError)
    assert operator is not None and read.operator_id == operator
    assert read.status == "answered" and not cards.journal.active


async def test_the_writer_commits_many_calls_changes_together_each_call_in_order(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    store = CardStore(sessions, RecordingStore(tmp_path))
    writer = CardWriter(JournaledCards(store, Journal(tmp_path / "cards.journal")))
    commits: list[int] = []

    def committed(_connection: object) -> None:
        commits.append(1)

    assert writer.engine is not None  # PostgreSQL: the writer's own asyncpg engine
    event.listen(writer.engine.sync_engine, "commit", committed)
    try:
        results = [
            writer.submit(change)
            for n in range(50)
            for change in (
                OpenCard(new_call(f"group.{n}")),
                Answered(
                    f"group.{n}",
                    extension="101",
                    interface="PJSIP/101",
                    at=T0 + timedelta(seconds=9),
                ),
                HungUp(
                    HangupReport(call=new_call(f"group.{n}"), ended_at=T0 + timedelta(seconds=30))
                ),
            )
        ]
        await asyncio.gather(*results)
        await writer.close()
    finally:
        event.remove(writer.engine.sync_engine, "commit", committed)
    assert 0 < len(commits) < 150 / 10  # 150 changes, a handful of transactions
    with sessions() as session:
        cards = session.scalars(select(Call).where(Call.linkedid.like("group.%"))).all()
    assert len(cards) == 50
    assert {(card.status, card.wait_sec, card.talk_sec) for card in cards} == {("answered", 9, 21)}
