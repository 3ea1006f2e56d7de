"""The card store on PostgreSQL (and the demo's SQLite): one card per call, times, operator,
recording check."""

from __future__ import annotations

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from callcards.demo import seed_demo
from fastagi.cards import AlreadyApplied, CardStore, Event, HangupReport, NewCall
from fastagi.changes import (
    Answered,
    CallbackRequested,
    CardRead,
    Closed,
    EventsAdded,
    HoldChanged,
    HungUp,
    OpenCard,
    RecordingChecked,
    Ringing,
    RouteDecided,
    TransferredAttended,
)
from fastagi.outcome import Outcome
from models import Call, CallEvent, Direction, Status, User, migrate
from models.session import make_engine, make_session_factory, transaction
from recordings import RecordingStore

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def new_call(linkedid: str = "1700000000.1", **changes: object) -> NewCall:
    values: dict[str, object] = {
        "uniqueid": linkedid,
        "linkedid": linkedid,
        "direction": Direction.INBOUND,
        "started_at": T0,
        "src_number": "+79161234567",
        "dst_number": "74951234567",
        "did": "74951234567",
        "caller_name": "Иванов",
    }
    values.update(changes)
    return NewCall(**values)  # type: ignore[arg-type]


def store(sessions: sessionmaker[Session], tmp_path: Path) -> CardStore:
    return CardStore(sessions, RecordingStore(tmp_path))


def test_the_same_linkedid_coming_back_finds_the_same_card(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    first = cards.apply(OpenCard(new_call()))
    again = cards.apply(OpenCard(new_call(uniqueid="1700000000.5")))
    assert first.created and not again.created
    assert first.id == again.id
    with sessions() as session:
        assert session.scalar(select(func.count(Call.id))) == 1


def test_two_sessions_racing_for_one_call_make_one_card(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    barrier = threading.Barrier(6)
    ids: list[int] = []

    def open_one() -> None:
        barrier.wait()
        ids.append(cards.apply(OpenCard(new_call("race.1"))).id)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    with sessions() as session:
        assert session.scalar(select(func.count(Call.id))) == 1


def test_a_card_opened_with_a_reserved_id_has_it_and_the_sequence_goes_on(
    sessions, tmp_path
) -> None:
    cards = store(sessions, tmp_path)
    assert cards.reserves_ids
    reserved = cards.reserve_ids(3)
    assert len(set(reserved)) == 3
    ref = cards.apply(OpenCard(new_call("reserved.1"), card_id=reserved[1]))
    after = cards.apply(OpenCard(new_call("reserved.2")))
    assert (ref.id, ref.created) == (reserved[1], True)
    assert after.id > max(reserved)
    # The call coming back keeps its card, whatever id its other channel was told.
    again = cards.apply(
        OpenCard(new_call("reserved.1", uniqueid="reserved.5"), card_id=reserved[2])
    )
    assert (again.id, again.created) == (reserved[1], False)
    with sessions() as session:
        assert session.get_one(Call, ref.id).recording_url == f"/api/calls/{ref.id}/recording"


def test_card_is_created_ringing_with_caller_and_recording_name(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    ref = cards.apply(OpenCard(new_call(caller_name="unknown")))
    with sessions() as session:
        card = session.get_one(Call, ref.id)
        assert card.status == "ringing"
        assert card.direction == "inbound"
        assert card.src_number == "+79161234567"
        assert card.caller_name is None  # Asterisk's 'unknown' is not a name
        assert card.recording_path == "2026/11/23/1700000000.1.wav"
        assert card.recording_url == f"/api/calls/{ref.id}/recording"


def test_answered_then_caller_hangs_up_gives_times_and_operator(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call()))
    cards.apply(
        RouteDecided(
            "1700000000.1",
            queue="appointments",
            ivr_path="main > 1",
            did_source="Яндекс",
            did_city="Москва",
            events=[Event("ivr_key", T0, {"digits": "1"})],
            queue_entered_at=T0 + timedelta(seconds=10),
        )
    )
    cards.apply(
        Answered(
            "1700000000.1", extension="101", interface="PJSIP/101", at=T0 + timedelta(seconds=25)
        )
    )
    card = cards.apply(
        Closed(
            "1700000000.1",
            Outcome(Status.ANSWERED, "caller_hangup"),
            ended_at=T0 + timedelta(seconds=85),
            data={},
        )
    )
    with sessions() as session:
        card = session.get_one(Call, card.id)
        operator = session.get_one(User, card.operator_id)
        kinds = [
            event.kind
            for event in session.scalars(
                select(CallEvent).where(CallEvent.call_id == card.id).order_by(CallEvent.id)
            )
        ]
    assert operator.extension == "101"
    assert (card.status, card.end_reason) == ("answered", "caller_hangup")
    assert (card.duration_sec, card.talk_sec, card.wait_sec, card.hold_sec) == (85, 60, 15, 0)
    assert card.queue == "appointments" and card.ivr_path == "main > 1"
    assert kinds == ["ivr_key", "answered", "hangup"]
    assert card.recording_state == "pending"  # MixMonitor may not have written it yet


def test_unanswered_close_keeps_a_reason_known_earlier(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call()))
    cards.apply(
        RouteDecided(
            "1700000000.1",
            queue=None,
            ivr_path=None,
            did_source=None,
            did_city=None,
            events=[],
            end_reason="closed_hours",
        )
    )
    card = cards.apply(
        Closed(
            "1700000000.1",
            Outcome(Status.MISSED, "closed_hours"),
            ended_at=T0 + timedelta(seconds=7),
            data={},
        )
    )
    assert (card.status, card.end_reason, card.talk_sec) == ("missed", "closed_hours", 0)


def test_hold_time_sums_hold_unhold_pairs(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call()))
    cards.apply(Answered("1700000000.1", extension="102", interface="PJSIP/102", at=T0))
    cards.apply(
        EventsAdded(
            "1700000000.1",
            [
                Event("hold", T0 + timedelta(seconds=10)),
                Event("unhold", T0 + timedelta(seconds=40)),
                Event("hold", T0 + timedelta(seconds=50)),
                Event("unhold", T0 + timedelta(seconds=55)),
            ],
        )
    )
    card = cards.apply(
        Closed(
            "1700000000.1",
            Outcome(Status.ANSWERED, "caller_hangup"),
            ended_at=T0 + timedelta(seconds=90),
            data={},
        )
    )
    assert card.hold_sec == 35


def answered_call(cards: CardStore, linkedid: str = "1700000000.1") -> None:
    cards.apply(OpenCard(new_call(linkedid)))
    cards.apply(Answered(linkedid, extension="102", interface="PJSIP/102", at=T0))


def hold(kind: str, second: int, channel: str = "PJSIP/102-1") -> Event:
    return Event(kind, T0 + timedelta(seconds=second), {"channel": channel}, channel)


def hang_up_at(cards: CardStore, second: int, linkedid: str = "1700000000.1") -> Call:
    return cards.apply(
        Closed(
            linkedid,
            Outcome(Status.ANSWERED, "caller_hangup"),
            ended_at=T0 + timedelta(seconds=second),
            data={},
        )
    )


def test_a_hold_still_on_at_hangup_counts_up_to_the_hangup(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    assert cards.apply(HoldChanged("1700000000.1", hold("hold", 20)))
    assert hang_up_at(cards, 50).hold_sec == 30


def test_an_unhold_after_the_card_closed_still_counts(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    cards.apply(HoldChanged("1700000000.1", hold("hold", 20)))
    assert hang_up_at(cards, 50).hold_sec == 30  # what the hangup knew
    # The Unhold happened at 30 s but reached the card after the hangup closed it.
    assert cards.apply(HoldChanged("1700000000.1", hold("unhold", 30)))
    card = cards.apply(CardRead("1700000000.1"))
    assert card is not None and (card.hold_sec, card.talk_sec) == (10, 50)


def test_a_whole_hold_heard_after_the_hangup_counts_on_the_closed_card(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    assert hang_up_at(cards, 60).hold_sec == 0
    cards.apply(HoldChanged("1700000000.1", hold("hold", 10)))
    cards.apply(HoldChanged("1700000000.1", hold("unhold", 25)))
    card = cards.apply(CardRead("1700000000.1"))
    assert card is not None and card.hold_sec == 15


def test_holds_on_both_sides_at_once_count_once(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    for event in (
        hold("hold", 10, "PJSIP/102-1"),
        hold("hold", 15, "PJSIP/trunk-2"),
        hold("unhold", 20, "PJSIP/102-1"),
        hold("unhold", 30, "PJSIP/trunk-2"),
    ):
        cards.apply(HoldChanged("1700000000.1", event))
    assert hang_up_at(cards, 60).hold_sec == 20


def test_the_same_hold_heard_twice_is_on_the_card_once(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    # Two FastAGI instances both listening to AMI hear every event.
    assert cards.apply(HoldChanged("1700000000.1", hold("hold", 10)))
    assert not cards.apply(HoldChanged("1700000000.1", hold("hold", 10)))
    assert cards.apply(HoldChanged("1700000000.1", hold("unhold", 14)))
    with sessions() as session:
        kinds = session.scalars(select(CallEvent.kind).order_by(CallEvent.id)).all()
    assert kinds == ["answered", "hold", "unhold"]
    assert hang_up_at(cards, 60).hold_sec == 4


def test_a_hold_of_a_call_without_a_card_is_left_out(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    assert not cards.apply(HoldChanged("internal.7", hold("hold", 10)))


def into_reception(second: int, linkedid: str = "1700000000.1") -> TransferredAttended:
    """Operator 102's attended transfer of the caller to reception, where 103 answered."""
    return TransferredAttended(
        linkedid,
        to_queue="reception",
        extension="103",
        interface="PJSIP/103",
        at=T0 + timedelta(seconds=second),
        channel_uniqueid="1700000000.2",
    )


def test_an_attended_transfer_into_a_queue_moves_the_card_there_once(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call()))
    cards.apply(
        RouteDecided("1700000000.1", "appointments", None, None, None, [], queue_entered_at=T0)
    )
    cards.apply(Answered("1700000000.1", extension="102", interface="PJSIP/102", at=T0))
    assert cards.apply(into_reception(30))
    assert not cards.apply(into_reception(30))  # a second server instance heard it too
    assert not cards.apply(into_reception(30, "internal.7"))  # no card: left out
    assert hang_up_at(cards, 60).queue == "reception"
    with sessions() as session:
        timeline = session.execute(select(CallEvent.kind, CallEvent.data).order_by(CallEvent.id))
        moves = [
            (kind, data["extension"])
            if kind == "answered"
            else (kind, f"{data['from_queue']} > {data['to_queue']} ({data['reason']})")
            for kind, data in timeline
            if kind in ("transferred", "answered")
        ]
    assert moves == [
        ("answered", "102"),
        ("transferred", "appointments > reception (attended_transfer)"),
        ("answered", "103"),
    ]


def test_an_attended_transfer_heard_after_the_hangup_leaves_the_closed_card_as_it_was(
    sessions, tmp_path
) -> None:
    cards = store(sessions, tmp_path)
    answered_call(cards)
    closed = hang_up_at(cards, 60)
    assert cards.apply(into_reception(30))
    card = cards.apply(CardRead("1700000000.1"))
    assert card is not None
    assert (card.queue, card.status, card.end_reason, card.operator_id) == (
        closed.queue,
        closed.status,
        closed.end_reason,
        closed.operator_id,
    )
    with sessions() as session:
        kinds = session.scalars(select(CallEvent.kind).order_by(CallEvent.id)).all()
    assert kinds[-1] == "transferred"


def test_recording_state_says_ok_empty_or_missing(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    for linkedid, content in (("rec.ok", b"R" * 2000), ("rec.empty", b"R" * 44)):
        ref = cards.apply(OpenCard(new_call(linkedid)))
        path = tmp_path / ref.recording_path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    cards.apply(OpenCard(new_call("rec.missing")))
    linkedids = ("rec.ok", "rec.empty", "rec.missing")
    at_hangup = {
        linkedid: cards.apply(
            Closed(
                linkedid,
                Outcome(Status.ABANDONED, "caller_hangup_ivr"),
                ended_at=T0 + timedelta(seconds=3),
                data={},
            )
        ).recording_state
        for linkedid in linkedids
    }
    not_final = {
        linkedid: cards.apply(RecordingChecked(linkedid, final=False)) for linkedid in linkedids
    }
    final = {
        linkedid: cards.apply(RecordingChecked(linkedid, final=True)) for linkedid in linkedids
    }
    assert (
        at_hangup == not_final == {"rec.ok": "ok", "rec.empty": "pending", "rec.missing": "pending"}
    )
    assert final == {"rec.ok": "ok", "rec.empty": "empty", "rec.missing": "missing"}


def test_outbound_card_names_the_operator_who_dials(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    ref = cards.apply(
        OpenCard(
            new_call(
                "out.1",
                direction=Direction.OUTBOUND,
                src_number="101",
                dst_number="84951112233",
                did=None,
                operator_extension="101",
            )
        )
    )
    card = cards.apply(
        Closed("out.1", Outcome(Status.BUSY, "busy"), ended_at=T0 + timedelta(seconds=4), data={})
    )
    with sessions() as session:
        operator = session.get_one(User, card.operator_id)
    assert ref.created and operator.extension == "101"
    assert (card.direction, card.status, card.end_reason) == ("outbound", "busy", "busy")


def test_a_whole_call_on_the_demo_sqlite_database_replayed_once(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        seed_demo(session)
    cards = store(sessions, tmp_path)
    assert not cards.reserves_ids  # SQLite has no sequence: calls wait for their cards
    ref = cards.apply(OpenCard(new_call(), [Event("call_started", T0)]))
    cards.apply(
        RouteDecided(
            "1700000000.1",
            queue="appointments",
            ivr_path="main > 1",
            did_source="Яндекс",
            did_city=None,
            events=[Event("ivr_key", T0)],
            queue_entered_at=T0 + timedelta(seconds=10),
        )
    )
    cards.apply(
        RouteDecided(
            "1700000000.1",
            queue="reception",
            ivr_path="transfer",
            did_source=None,
            did_city=None,
            events=[],
        )
    )
    assert cards.apply(Ringing("1700000000.1", extension="101", channel="PJSIP/101-1", at=T0))
    cards.apply(
        Answered(
            "1700000000.1", extension="101", interface="PJSIP/101", at=T0 + timedelta(seconds=25)
        )
    )
    for kind, second in (("hold", 30), ("hold", 30), ("unhold", 42)):  # one hold heard twice
        cards.apply(HoldChanged("1700000000.1", hold(kind, second)))
    report = HangupReport(call=new_call(), ended_at=T0 + timedelta(seconds=85), cause="16")
    for _ in range(2):  # a journal replayed twice lands once
        with contextlib.suppress(AlreadyApplied):
            cards.apply(HungUp(report), op_id="op-hangup")
    with sessions() as session:
        card = session.get_one(Call, ref.id)
        kinds = [event.kind for event in card.events]
    engine.dispose()
    assert (card.status, card.queue, card.ivr_path) == (
        "answered",
        "reception",
        "main > 1 | transfer",
    )
    assert (card.duration_sec, card.talk_sec, card.wait_sec, card.hold_sec) == (85, 60, 15, 12)
    assert card.did_source == "Яндекс" and card.operator_id is not None
    assert card.recording_url == f"/api/calls/{ref.id}/recording"
    assert kinds == [
        "call_started",
        "ivr_key",
        "operator_rang",
        "answered",
        "hold",
        "unhold",
        "hangup",
    ]


def test_a_call_that_never_reached_a_queue_keeps_no_recording(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    ref = cards.apply(OpenCard(new_call("ivr.left")))
    cards.apply(
        RouteDecided(
            "ivr.left",
            queue=None,
            ivr_path="main",
            did_source=None,
            did_city=None,
            events=[Event("caller_left_ivr", T0)],
            recorded=False,
        )
    )
    card = cards.apply(
        Closed(
            "ivr.left",
            Outcome(Status.ABANDONED, "caller_hangup_ivr"),
            ended_at=T0 + timedelta(seconds=9),
            data={},
        )
    )
    assert card.id == ref.id
    assert (card.recording_path, card.recording_url, card.recording_state) == (None, None, "none")
    assert (card.status, card.ivr_path) == ("abandoned", "main")


def test_a_queue_the_dialplan_chose_alone_is_the_card_queue_at_hangup(sessions, tmp_path) -> None:
    """The server's answer at an overflow step never came: Asterisk queued the caller in the
    default queue on its own. The hangup report names that queue; the card follows it."""
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call()))
    cards.apply(
        RouteDecided(
            "1700000000.1",
            queue="appointments",
            ivr_path="main > 1",
            did_source=None,
            did_city=None,
            events=[],
            queue_entered_at=T0 + timedelta(seconds=5),
        )
    )
    card = cards.apply(
        HungUp(
            HangupReport(
                call=new_call(),
                ended_at=T0 + timedelta(seconds=70),
                queue_status="TIMEOUT",
                queue_returned=True,
                queue_entered=True,
                queue="reception",
            )
        )
    )
    with sessions() as session:
        moved = session.scalars(
            select(CallEvent).where(
                CallEvent.call_id == card.id, CallEvent.kind == "queue_from_dialplan"
            )
        ).one()
    assert card.queue == "reception"
    assert moved.data == {"queue": "reception", "card_queue": "appointments"}


def test_the_card_queue_stays_when_the_dialplan_agrees_or_never_queued(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    for linkedid, queue_entered in (("same.1", True), ("ivr.1", False)):
        cards.apply(OpenCard(new_call(linkedid)))
        cards.apply(
            RouteDecided(
                linkedid,
                queue="appointments",
                ivr_path=None,
                did_source=None,
                did_city=None,
                events=[],
            )
        )
        card = cards.apply(
            HungUp(
                HangupReport(
                    call=new_call(linkedid),
                    ended_at=T0 + timedelta(seconds=30),
                    queue_entered=queue_entered,
                    queue="appointments" if queue_entered else "",
                )
            )
        )
        assert card.queue == "appointments"
    with sessions() as session:
        assert not session.scalars(
            select(CallEvent).where(CallEvent.kind == "queue_from_dialplan")
        ).all()


def test_a_caller_the_card_saw_queued_who_hangs_up_is_abandoned_in_the_queue(
    sessions, tmp_path
) -> None:
    """The card knows the caller was queued even when the channel does not say so (a hangup
    before the dialplan set CC_QUEUE_ENTERED, or a dialplan from before that variable)."""
    cards = store(sessions, tmp_path)
    cards.apply(OpenCard(new_call("queued.1")))
    cards.apply(
        RouteDecided(
            "queued.1",
            queue="appointments",
            ivr_path="main > 1",
            did_source=None,
            did_city=None,
            events=[],
            queue_entered_at=T0 + timedelta(seconds=12),
        )
    )
    card = cards.apply(
        HungUp(
            HangupReport(
                call=new_call("queued.1"),
                ended_at=T0 + timedelta(seconds=52),
                queue_entered=False,
                hangup_source="PJSIP/trunk-00000001",
                cause="16",
            )
        )
    )
    assert (card.status, card.end_reason) == ("abandoned", "caller_hangup_queue")
    # Waited from entering the queue, not from the first ring of the call.
    assert (card.duration_sec, card.wait_sec, card.talk_sec) == (52, 40, 0)
    assert card.answered_at is None and card.operator_id is None


def queued_caller(cards: CardStore, linkedid: str) -> None:
    """A caller waiting in appointments since second 12."""
    cards.apply(OpenCard(new_call(linkedid)))
    cards.apply(
        RouteDecided(
            linkedid,
            queue="appointments",
            ivr_path=None,
            did_source=None,
            did_city=None,
            events=[],
            queue_entered_at=T0 + timedelta(seconds=12),
        )
    )


def left_for_a_callback(cards: CardStore, linkedid: str) -> Call:
    """The caller's channel ends after the callback route (no QUEUESTATUS: they left by key)."""
    return cards.apply(
        HungUp(
            HangupReport(
                call=new_call(linkedid),
                ended_at=T0 + timedelta(seconds=90),
                queue_entered=True,
                hangup_source="",
                cause="16",
            )
        )
    )


def test_a_caller_who_asks_to_be_called_back_is_not_abandoned(sessions, tmp_path) -> None:
    cards = store(sessions, tmp_path)
    queued_caller(cards, "vhold.1")
    asked = T0 + timedelta(seconds=80)
    assert cards.apply(CallbackRequested("vhold.1", "74957654321", asked, "typed"))
    card = left_for_a_callback(cards, "vhold.1")
    assert (card.status, card.end_reason, card.callback_number) == (
        "callback_requested",
        "callback_requested",
        "74957654321",
    )
    assert (card.wait_sec, card.talk_sec, card.answered_at) == (78, 0, None)
    with sessions() as session:
        kinds = [
            (event.kind, event.data)
            for event in session.scalars(
                select(CallEvent).where(CallEvent.call_id == card.id).order_by(CallEvent.id)
            )
        ]
    assert ("callback_requested", {"number": "74957654321", "how": "typed"}) in kinds
    assert kinds[-1][0] == "hangup"


def test_a_callback_request_after_the_hangup_closed_the_card_still_counts(
    sessions, tmp_path
) -> None:
    cards = store(sessions, tmp_path)
    queued_caller(cards, "vhold.2")
    assert left_for_a_callback(cards, "vhold.2").status == "abandoned"
    assert cards.apply(CallbackRequested("vhold.2", "79161234567", T0, "hangup"))
    with sessions() as session:
        card = session.scalars(select(Call).where(Call.linkedid == "vhold.2")).one()
        assert (card.status, card.callback_number) == ("callback_requested", "79161234567")


def test_an_answered_call_or_a_call_without_a_card_takes_no_callback_request(
    sessions, tmp_path
) -> None:
    cards = store(sessions, tmp_path)
    assert not cards.apply(CallbackRequested("nobody.1", "79161234567", T0, "confirmed"))
    cards.apply(OpenCard(new_call("talked.1")))
    cards.apply(Answered("talked.1", extension=None, interface="PJSIP/101", at=T0))
    assert not cards.apply(CallbackRequested("talked.1", "79161234567", T0, "confirmed"))
