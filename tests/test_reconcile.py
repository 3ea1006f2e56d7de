"""Reconcile over hand-made CEL rows: open cards closed from Asterisk's record, or as failed
when it has none, or left open while the call may still be on; the hangup of a card whose
answer the server missed takes the answer from CEL."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from callcards.reconcile import one_instance, run_locked, run_once
from fastagi.cards import CardStore, HangupReport, NewCall
from fastagi.changes import HungUp, OpenCard, RouteDecided
from models import AsteriskCel, Call, Direction, User, migrate
from models.session import make_engine, make_session_factory
from recordings import RecordingStore
from webadmin.labels import END_REASONS

LIMIT = timedelta(hours=4)
DAY = timedelta(days=1)


@pytest.fixture
def linkedid(sessions: sessionmaker[Session]) -> Iterator[str]:
    """A call id of its own; its CEL rows are removed after the test."""
    value = f"{datetime.now(UTC).timestamp():.0f}.{uuid.uuid4().int % 10**6}"
    yield value
    with sessions.begin() as session:
        session.execute(delete(AsteriskCel).where(AsteriskCel.linkedid == value))


@pytest.fixture
def cards(sessions: sessionmaker[Session], tmp_path: Path) -> CardStore:
    return CardStore(sessions, RecordingStore(tmp_path))


def operator(sessions: sessionmaker[Session]) -> User:
    with sessions() as session:
        user = session.scalar(select(User).where(User.extension.is_not(None)).order_by(User.id))
        assert user is not None and user.extension
        return user


def card_of(sessions: sessionmaker[Session], linkedid: str) -> Call:
    with sessions() as session:
        card = session.scalar(
            select(Call).options(selectinload(Call.events)).where(Call.linkedid == linkedid)
        )
        assert card is not None
        return card


def new_call(linkedid: str, started_at: datetime, recording: str | None = None) -> NewCall:
    return NewCall(
        uniqueid=f"{linkedid}-2",
        linkedid=linkedid,
        direction=Direction.INBOUND,
        started_at=started_at,
        src_number="79161234567",
        dst_number="74951234567",
        did="74951234567",
        recording=recording,
    )


def write_cel(
    sessions: sessionmaker[Session],
    linkedid: str,
    t0: datetime,
    extension: str,
    *,
    answered: bool = True,
    over: bool = True,
) -> str:
    """The CEL rows of a call the fallback queued in `reception`, answered at +8 s (4 s after
    joining the queue), the caller hanging up at +19 s; the recording's name."""
    caller, member = "Local/74951234567@from-trunk-0001;2", f"Local/{extension}@ops-0002;1"
    recording = f"fallback/{t0:%Y/%m/%d}/{linkedid}-2.wav"

    def row(seconds: float, event: str, channel: str, **more: str) -> dict[str, object]:
        return {
            "eventtype": event,
            "eventtime": t0 + timedelta(seconds=seconds),
            "channame": channel,
            "linkedid": linkedid,
            "cid_num": "79161234567",
            "uniqueid": f"{linkedid}-2" if channel == caller else f"{linkedid}-9",
            "context": "from-trunk",
            "exten": "74951234567",
            **more,
        }

    rows = [
        row(0, "CHAN_START", caller),
        row(0.1, "APP_START", caller, appname="AGI", appdata="agi://127.0.0.1/incoming"),
        row(
            3.5,
            "APP_START",
            caller,
            context="cc-queue",
            appname="MixMonitor",
            appdata=f"/var/spool/asterisk/callcards/{recording},i(CC_MIXMONITOR_ID)",
        ),
        row(
            4,
            "APP_START",
            caller,
            context="cc-queue",
            appname="Queue",
            appdata="reception,ctb(cc-member-ringing^s^1),,,300",
        ),
    ]
    bridge = json.dumps({"bridge_id": "b-1"})
    if answered:
        rows += [
            row(8, "BRIDGE_ENTER", member, context="ops", extra=bridge),
            row(8, "BRIDGE_ENTER", caller, context="cc-queue", peer=member, extra=bridge),
            row(19, "BRIDGE_EXIT", caller, context="cc-queue", extra=bridge),
        ]
    rows.append(
        row(
            19,
            "HANGUP",
            caller,
            context="cc-queue",
            extra=json.dumps({"hangupcause": 16, "hangupsource": caller, "dialstatus": ""}),
        )
    )
    rows.append(row(19, "CHAN_END", caller, context="cc-queue"))
    if over:
        rows.append(row(19.2, "LINKEDID_END", caller, context="cc-queue"))
    with sessions.begin() as session:
        session.execute(insert(AsteriskCel), rows)
    return recording


def test_open_card_whose_call_ended_in_asterisk_is_closed_from_cel(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    user = operator(sessions)
    cards.apply(OpenCard(new_call(linkedid, t0)))
    cards.apply(
        RouteDecided(
            linkedid,
            queue="reception",
            ivr_path=None,
            did_source=None,
            did_city=None,
            events=[],
            queue_entered_at=t0 + timedelta(seconds=4),
        )
    )
    recording = write_cel(sessions, linkedid, t0, str(user.extension))

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert done.closed == [linkedid] and not done.failed and linkedid not in done.rebuilt
    card = card_of(sessions, linkedid)
    assert (card.status, card.end_reason, card.operator_id) == (
        "answered",
        "caller_hangup",
        user.id,
    )
    assert card.answered_at == t0 + timedelta(seconds=8)
    assert card.ended_at == t0 + timedelta(seconds=19)
    assert (card.wait_sec, card.talk_sec, card.duration_sec) == (4, 11, 19)
    assert (card.recording_path, card.recording_state) == (recording, "missing")
    assert "card_closed_from_cel" in [event.kind for event in card.events]
    # A second run finds nothing left to do.
    again = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)
    assert not (again.closed or again.failed or again.rebuilt)


def test_open_card_caller_left_the_queue_unanswered_is_abandoned_with_its_wait(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    cards.apply(OpenCard(new_call(linkedid, t0)))
    write_cel(sessions, linkedid, t0, "101", answered=False)

    run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    card = card_of(sessions, linkedid)
    assert (card.status, card.end_reason, card.answered_at, card.operator_id) == (
        "abandoned",
        "caller_hangup_queue",
        None,
        None,
    )
    assert (card.queue, card.queue_entered_at) == ("reception", t0 + timedelta(seconds=4))
    assert (card.wait_sec, card.talk_sec, card.duration_sec) == (15, 0, 19)


def test_open_card_asterisk_has_no_record_of_is_closed_failed_past_the_limit(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - LIMIT - timedelta(minutes=1)
    cards.apply(OpenCard(new_call(linkedid, t0)))

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert done.failed == [linkedid]
    card = card_of(sessions, linkedid)
    assert (card.status, card.end_reason) == ("failed", "no_asterisk_record")
    assert card.ended_at is not None and card.ended_at >= card.started_at
    assert card.answered_at is None and card.talk_sec == 0
    assert str(END_REASONS["no_asterisk_record"]) == (
        "closed by reconcile: no record of the call in Asterisk"
    )


def test_open_card_within_the_limit_without_a_call_end_is_left_open(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - LIMIT + timedelta(minutes=5)
    cards.apply(OpenCard(new_call(linkedid, t0)))
    write_cel(sessions, linkedid, t0, "101", over=False)  # a channel of it is still up

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert linkedid not in done.closed + done.failed
    card = card_of(sessions, linkedid)
    assert (card.status, card.ended_at) == ("ringing", None)


def test_call_that_ended_seconds_ago_is_left_to_its_own_hangup(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC) - timedelta(seconds=20)  # LINKEDID_END 1 s ago
    cards.apply(OpenCard(new_call(linkedid, t0)))
    write_cel(sessions, linkedid, t0, "101")

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert linkedid not in done.closed + done.failed
    assert card_of(sessions, linkedid).ended_at is None


def test_hangup_of_a_card_whose_answer_the_server_missed_takes_it_from_cel(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    user = operator(sessions)
    cards.apply(OpenCard(new_call(linkedid, t0)))  # the server died in the menu
    recording = write_cel(sessions, linkedid, t0, str(user.extension))
    ended_at = t0 + timedelta(seconds=19)

    cards.apply(
        HungUp(
            HangupReport(
                call=new_call(linkedid, t0, recording=recording),
                ended_at=ended_at,
                queue_entered=True,
                queue="reception",
                member=f"Local/{user.extension}@ops",
                hangup_source="Local/74951234567@from-trunk-0001;2",
                cause="16",
            )
        )
    )

    card = card_of(sessions, linkedid)
    assert (card.status, card.operator_id, card.queue) == ("answered", user.id, "reception")
    assert card.answered_at == t0 + timedelta(seconds=8)
    assert card.queue_entered_at == t0 + timedelta(seconds=4)
    assert (card.wait_sec, card.talk_sec, card.duration_sec) == (4, 11, 19)
    assert card.recording_path == recording
    assert "recording_from_dialplan" in [event.kind for event in card.events]


def test_only_one_instance_reconciles_at_a_time(
    sessions: sessionmaker[Session], cards: CardStore
) -> None:
    with one_instance(sessions.kw["bind"]) as held:
        assert held
        assert run_locked(sessions, cards, lookback=DAY, open_limit=LIMIT) is None
    assert run_locked(sessions, cards, lookback=DAY, open_limit=LIMIT) is not None


def test_open_card_with_no_channel_alive_at_two_runs_is_closed_before_the_limit(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=2)
    talking = f"{linkedid}-talking"
    cards.apply(OpenCard(new_call(linkedid, t0)))
    cards.apply(OpenCard(new_call(talking, t0)))

    def live_calls() -> frozenset[str]:
        return frozenset({talking})  # what AMI's CoreShowChannels would list

    first = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT, live_calls=live_calls)
    assert not first.failed and first.gone == {linkedid}  # its hangup may be in flight
    second = run_once(
        sessions,
        cards,
        lookback=DAY,
        open_limit=LIMIT,
        live_calls=live_calls,
        gone_before=first.gone,
    )

    assert second.failed == [linkedid]
    assert (card_of(sessions, linkedid).status, card_of(sessions, talking).status) == (
        "failed",
        "ringing",
    )


def test_on_the_demo_sqlite_database_a_card_left_open_is_closed_failed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    cards = CardStore(sessions, RecordingStore(tmp_path))
    t0 = datetime.now(UTC).replace(microsecond=0) - LIMIT - timedelta(minutes=1)
    cards.apply(OpenCard(new_call("demo.1", t0)))
    cards.apply(OpenCard(new_call("demo.2", datetime.now(UTC))))

    done = run_locked(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert done is not None and done.failed == ["demo.1"]
    assert (card_of(sessions, "demo.1").end_reason, card_of(sessions, "demo.2").ended_at) == (
        "no_asterisk_record",
        None,
    )
    engine.dispose()


def test_answer_time_the_hangup_had_to_guess_is_corrected_from_cel_later(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    user = operator(sessions)
    cards.apply(OpenCard(new_call(linkedid, t0)))
    ended_at = t0 + timedelta(seconds=19)
    cards.apply(
        HungUp(
            HangupReport(  # CEL not written yet: the answer is taken as the hangup
                call=new_call(linkedid, t0),
                ended_at=ended_at,
                queue_entered=True,
                queue="reception",
                member=f"Local/{user.extension}@ops",
                cause="16",
            )
        )
    )
    guessed = card_of(sessions, linkedid)
    assert (guessed.answered_at, guessed.talk_sec) == (ended_at, 0)
    assert "answer_time_unknown" in [event.kind for event in guessed.events]
    write_cel(sessions, linkedid, t0, str(user.extension))

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert done.corrected == [linkedid]
    card = card_of(sessions, linkedid)
    assert (card.status, card.operator_id, card.ended_at) == ("answered", user.id, ended_at)
    assert card.answered_at == t0 + timedelta(seconds=8)
    assert card.queue_entered_at == t0 + timedelta(seconds=4)
    assert (card.wait_sec, card.talk_sec, card.duration_sec) == (4, 11, 19)
    again = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)
    assert not again.corrected


def test_open_card_whose_asterisk_record_is_not_a_trunk_call_is_closed_saying_so(
    sessions: sessionmaker[Session], cards: CardStore, linkedid: str
) -> None:
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    cards.apply(OpenCard(new_call(linkedid, t0)))
    phone = "PJSIP/101-00000001"  # an operator's outbound call: not our trunk dialplan
    with sessions.begin() as session:
        session.execute(
            insert(AsteriskCel),
            [
                {
                    "eventtype": event,
                    "eventtime": t0 + timedelta(seconds=at),
                    "channame": phone,
                    "linkedid": linkedid,
                    "uniqueid": linkedid,
                    "context": "from-operators",
                }
                for event, at in [("CHAN_START", 0), ("HANGUP", 30), ("LINKEDID_END", 30)]
            ],
        )

    done = run_once(sessions, cards, lookback=DAY, open_limit=LIMIT)

    assert done.failed == [linkedid]
    card = card_of(sessions, linkedid)
    assert (card.status, card.end_reason) == ("failed", "unreadable_asterisk_record")
    assert card.ended_at == t0 + timedelta(seconds=30)
