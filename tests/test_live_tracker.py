"""The floor's rules over sequences of AMI events (live/tracker.py): no database, no Asterisk.

Each test plays events as Asterisk 22 raises them for a queue call and reads what the
tracker says to write: the intervals closed and opened, the live events, the wrap-ups and
the pauses it asks of AMI.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from live.bus import EventKind
from live.tracker import (
    EVENTS,
    MISSED_REASON,
    WRAPUP_REASON,
    Change,
    CloseAll,
    CloseInterval,
    Directory,
    EndWrapup,
    OpenInterval,
    OpenWrapup,
    Operator,
    PauseMember,
    Publish,
    QueueRules,
    Tracker,
    Wrapup,
)
from live.wrapup import endings
from models.live import AgentState

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
ANNA = "PJSIP/101"
BORIS = "PJSIP/102"
CALL = "1765000000.10"


def directory(hold: int = 0, missed: int = 0) -> Directory:
    return Directory.build(
        "PJSIP/{extension}",
        [Operator(1, "Anna", "101"), Operator(2, "Boris", "102")],
        {"sales": QueueRules(hold, missed), "support": QueueRules()},
    )


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def member(where: str = ANNA, queue: str = "sales", **fields: str) -> dict[str, str]:
    return {"Queue": queue, "Interface": where, "MemberName": where, **fields}


def status(entries: list[dict[str, str]]) -> list[dict[str, str]]:
    """QueueStatus's answer: both queues and the given members."""
    params = [{"Event": "QueueParams", "Queue": q} for q in ("sales", "support")]
    return params + entries


def queue_member(where: str = ANNA, queue: str = "sales", **fields: str) -> dict[str, str]:
    return {
        "Event": "QueueMember",
        "Queue": queue,
        "Location": where,
        "Paused": "0",
        "Status": "1",
        "InCall": "0",
        **fields,
    }


def ready_floor(hold: int = 0, missed: int = 0) -> Tracker:
    """Anna in sales, Boris in sales and support, both ready, as a resync at T0 finds them."""
    tracker = Tracker(directory(hold, missed))
    tracker.resync(
        status([queue_member(), queue_member(BORIS), queue_member(BORIS, "support")]), T0
    )
    return tracker


def states(changes: list[Change], where: str = ANNA) -> list[tuple[str, str | None]]:
    """The state intervals opened for `where`, with their reasons."""
    return [
        (c.state.value, c.reason)
        for c in changes
        if isinstance(c, OpenInterval) and c.interface == where and c.queue is None
    ]


def published(changes: list[Change], kind: EventKind) -> list[Publish]:
    return [c for c in changes if isinstance(c, Publish) and c.kind == kind]


def play(tracker: Tracker, *events: tuple[float, str, dict[str, Any]]) -> list[Change]:
    changes: list[Change] = []
    for seconds, name, fields in events:
        changes += tracker.handle({"Event": name, **fields}, at(seconds))
    return changes


def a_call(where: str = ANNA, start: float = 0) -> list[tuple[float, str, dict[str, Any]]]:
    """A caller joins sales, `where` rings, answers, holds, resumes, the call ends."""
    caller = {"Linkedid": CALL, "Uniqueid": CALL, "CallerIDNum": "+79990001122"}
    return [
        (start + 1, "QueueCallerJoin", {"Queue": "sales", "Position": "1", **caller}),
        (start + 2, "AgentCalled", {**member(where), **caller}),
        (start + 5, "QueueCallerLeave", {"Queue": "sales", **caller}),
        (start + 5, "AgentConnect", {**member(where), **caller}),
        (start + 20, "Hold", {"Channel": f"{where}-00000001", "Linkedid": CALL}),
        (start + 30, "Unhold", {"Channel": f"{where}-00000001", "Linkedid": CALL}),
        (start + 60, "AgentComplete", {**member(where), **caller}),
    ]


def test_a_resync_opens_each_operators_state_and_queues_at_the_resync() -> None:
    tracker = Tracker(directory())
    changes = tracker.resync(
        status(
            [
                queue_member(),
                queue_member(BORIS, Paused="1", PausedReason="lunch"),
                queue_member("PJSIP/999"),  # nobody's phone: left out
                queue_member(queue="elsewhere"),  # not our queue: left out
            ]
        ),
        T0,
    )
    assert changes[0] == CloseAll(T0)  # what a previous writer left open ends as a gap
    opened = [
        (c.interface, c.queue, c.state.value, c.reason, c.at)
        for c in changes
        if isinstance(c, OpenInterval)
    ]
    assert opened == [
        (ANNA, "sales", "logged_in", None, T0),
        (ANNA, None, "ready", None, T0),
        (BORIS, "sales", "logged_in", None, T0),
        (BORIS, None, "paused", "lunch", T0),
    ]
    assert [p.data for p in published(changes, EventKind.AMI)] == [{"connected": True}]
    assert published(changes, EventKind.FLOOR)
    assert set(tracker.floor.operators) == {ANNA, BORIS}
    assert tracker.floor.ami_connected


def test_a_call_rings_is_answered_held_and_ends_and_the_operator_is_ready_again() -> None:
    tracker = ready_floor()
    changes = play(tracker, *a_call())
    assert states(changes) == [
        ("ringing", None),
        ("talking", None),
        ("hold", None),
        ("talking", None),
        ("ready", None),
    ]
    # Each state is closed where the next one opens.
    closes = [c.at for c in changes if isinstance(c, CloseInterval) and c.queue is None]
    assert closes == [at(2), at(5), at(20), at(30), at(60)]
    ring = published(changes, EventKind.RINGING)
    assert [(r.user_id, r.queue, r.data["linkedid"], r.data["number"]) for r in ring] == [
        (1, "sales", CALL, "+79990001122")
    ]
    joined = published(changes, EventKind.CALLER_JOINED)
    left = published(changes, EventKind.CALLER_LEFT)
    assert joined[0].data["linkedid"] == CALL and left[0].data["waited_sec"] == 4
    assert len(published(changes, EventKind.OPERATOR)) == 5
    assert tracker.floor.callers["sales"] == []
    assert tracker.floor.operators[ANNA].state == AgentState.READY


def test_a_pause_whose_reason_changes_is_two_intervals() -> None:
    tracker = ready_floor()
    changes = play(
        tracker,
        (10, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": "lunch"}),
        (70, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": "training"}),
        (80, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": "training"}),
        (90, "QueueMemberPause", {**member(), "Paused": "0"}),
    )
    assert states(changes) == [("paused", "lunch"), ("paused", "training"), ("ready", None)]
    closes = [c.at for c in changes if isinstance(c, CloseInterval)]
    assert closes == [at(10), at(70), at(90)]


def test_wrapup_holds_the_operator_until_the_card_then_unpauses() -> None:
    tracker = ready_floor(hold=120)
    changes = play(tracker, *a_call())
    assert states(changes)[-1] == ("wrapup", None)
    assert [c for c in changes if isinstance(c, OpenWrapup)] == [
        OpenWrapup(1, CALL, "sales", at(60), at(180))
    ]
    assert PauseMember(ANNA, True, WRAPUP_REASON) in changes
    wrapup = published(changes, EventKind.WRAPUP)[0]
    assert wrapup.data == {"linkedid": CALL, "ends_at": at(180).isoformat()}
    # Asterisk confirms our pause: nothing changes.
    assert (
        play(
            tracker,
            (61, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": WRAPUP_REASON}),
        )
        == []
    )
    held = tracker.open_wrapups()
    assert endings(held, set(), at(179)) == []
    assert endings(held, set(), at(180)) == [(ANNA, "time_up")]
    assert endings(held, {CALL}, at(180)) == [(ANNA, "card_completed")]
    ended = tracker.end_wrapup(ANNA, at(95), "card_completed")
    assert EndWrapup(1, at(95), "card_completed") in ended
    assert PauseMember(ANNA, False) in ended
    assert states(ended) == [("ready", None)]
    # Asterisk's unpause arrives: already ready.
    assert play(tracker, (96, "QueueMemberPause", {**member(), "Paused": "0"})) == []


def test_a_break_taken_during_wrapup_starts_when_the_wrapup_ends() -> None:
    tracker = ready_floor(hold=120)
    play(tracker, *a_call())
    during = play(
        tracker,
        (61, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": WRAPUP_REASON}),
        (70, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": "lunch"}),
        (71, "QueueMemberStatus", {**member(), "Paused": "1", "PausedReason": "lunch"}),
    )
    assert during == []  # still in wrap-up
    ended = tracker.end_wrapup(ANNA, at(100), "card_completed")
    assert states(ended) == [("paused", "lunch")]
    assert not any(isinstance(c, PauseMember) for c in ended)  # they stay paused
    closes = [c for c in ended if isinstance(c, CloseInterval)]
    assert [c.at for c in closes] == [at(100)]


def test_an_operator_who_unpauses_during_wrapup_ends_it() -> None:
    tracker = ready_floor(hold=120)
    play(tracker, *a_call())
    changes = play(tracker, (80, "QueueMemberPause", {**member(), "Paused": "0"}))
    assert EndWrapup(1, at(80), "operator") in changes
    assert states(changes) == [("ready", None)]


def test_missed_rings_in_a_row_pause_the_operator_and_an_answer_resets_the_count() -> None:
    tracker = ready_floor(missed=2)
    caller = {"Linkedid": CALL, "CallerIDNum": "100"}
    ring = {**member(), **caller}
    changes = play(
        tracker,
        (1, "AgentCalled", ring),
        (16, "AgentRingNoAnswer", ring),
        (20, "AgentCalled", ring),
        (21, "AgentConnect", ring),  # answered: the count starts again
        (40, "AgentComplete", ring),
        (41, "AgentCalled", ring),
        (56, "AgentRingNoAnswer", ring),
    )
    assert not any(isinstance(c, PauseMember) for c in changes)
    changes = play(tracker, (60, "AgentCalled", ring), (75, "AgentRingNoAnswer", ring))
    assert PauseMember(ANNA, True, MISSED_REASON) in changes
    assert states(changes) == [("ringing", None), ("paused", MISSED_REASON)]
    confirmed = play(
        tracker,  # the phone's status from before the pause, then Asterisk's confirmation
        (75.1, "QueueMemberStatus", {**member(), "Status": "1", "Paused": "0"}),
        (75.2, "QueueMemberPause", {**member(), "Paused": "1", "PausedReason": MISSED_REASON}),
        (75.3, "QueueMemberStatus", {**member(), "Paused": "1", "PausedReason": MISSED_REASON}),
    )
    assert confirmed == []
    back = play(tracker, (90, "QueueMemberStatus", {**member(), "Status": "1", "Paused": "0"}))
    assert states(back) == [("ready", None)]


def test_a_caller_who_hangs_up_while_ringing_stops_the_ring() -> None:
    tracker = ready_floor()
    caller = {"Linkedid": CALL, "Uniqueid": CALL, "CallerIDNum": "100"}
    changes = play(
        tracker,
        (1, "QueueCallerJoin", {"Queue": "sales", **caller}),
        (2, "AgentCalled", {**member(), **caller}),
        (2, "AgentCalled", {**member(BORIS), **caller}),
        (9, "QueueCallerAbandon", {"Queue": "sales", **caller}),
    )
    assert states(changes) == [("ringing", None), ("ready", None)]
    assert states(changes, BORIS) == [("ringing", None), ("ready", None)]
    assert published(changes, EventKind.CALLER_LEFT)[0].data["why"] == "abandoned"


def test_ringall_the_others_stop_ringing_when_one_answers() -> None:
    tracker = ready_floor()
    caller = {"Linkedid": CALL, "CallerIDNum": "100"}
    changes = play(
        tracker,
        (2, "AgentCalled", {**member(), **caller}),
        (2, "AgentCalled", {**member(BORIS), **caller}),
        (4, "AgentConnect", {**member(BORIS), **caller}),
    )
    assert states(changes) == [("ringing", None), ("ready", None)]
    assert states(changes, BORIS) == [("ringing", None), ("talking", None)]


def test_logging_in_and_out_of_a_queue_are_intervals_and_logged_out_has_no_state() -> None:
    tracker = ready_floor()
    added = play(tracker, (5, "QueueMemberAdded", {**member(queue="support"), "Paused": "0"}))
    assert [(c.queue, c.state.value) for c in added if isinstance(c, OpenInterval)] == [
        ("support", "logged_in")
    ]
    gone = play(
        tracker,
        (50, "QueueMemberRemoved", member(queue="support")),
        (60, "QueueMemberRemoved", member(queue="sales")),
    )
    assert [(c.queue, c.at) for c in gone if isinstance(c, CloseInterval)] == [
        ("support", at(50)),
        ("sales", at(60)),
        (None, at(60)),
    ]
    assert ANNA not in tracker.floor.operators
    assert published(gone, EventKind.OPERATOR)[-1].data["queues"] == []


def test_ami_lost_ends_everything_as_a_gap_and_the_resync_starts_again() -> None:
    tracker = ready_floor()
    lost = tracker.lost(at(30))
    assert lost[0] == CloseAll(at(30))
    assert published(lost, EventKind.AMI)[0].data == {"connected": False}
    assert not tracker.floor.ami_connected and not tracker.floor.operators
    again = tracker.resync(status([queue_member(InCall="1", Status="2")]), at(45))
    assert states(again) == [("talking", None)]
    assert all(c.at == at(45) for c in again if isinstance(c, OpenInterval))


def test_an_open_wrapup_survives_a_resync_while_its_pause_does() -> None:
    tracker = Tracker(directory(hold=120))
    wrapup = Wrapup(1, CALL, "sales", at(0), at(120))
    kept = tracker.resync(
        status([queue_member(Paused="1", PausedReason=WRAPUP_REASON)]), at(10), [wrapup]
    )
    assert states(kept) == [("wrapup", None)]
    assert tracker.open_wrapups() == {ANNA: wrapup}
    other = Tracker(directory(hold=120))
    ended = other.resync(status([queue_member()]), at(10), [wrapup])
    assert EndWrapup(1, at(10), "operator") in ended and states(ended) == [("ready", None)]


def test_events_for_unknown_queues_or_phones_and_unknown_events_change_nothing() -> None:
    tracker = ready_floor()
    before = tracker.floor.to_json()
    changes = play(
        tracker,
        (1, "AgentCalled", {**member("PJSIP/999"), "Linkedid": CALL}),
        (1, "AgentCalled", {**member(queue="elsewhere"), "Linkedid": CALL}),
        (1, "QueueCallerJoin", {"Queue": "elsewhere", "Linkedid": CALL}),
        (1, "AgentCalled", member()),  # no Linkedid
        (1, "Hold", {"Linkedid": "nobody-talks-here"}),
        (1, "Newchannel", {"Channel": "PJSIP/101-1"}),
        (1, "QueueMemberPause", {"Queue": "sales", "Paused": "1"}),  # no interface
    )
    assert changes == []
    assert tracker.floor.to_json() == before
    assert tracker.skipped == 7


HEADERS = st.sampled_from(
    [
        "Event",
        "Queue",
        "Interface",
        "Location",
        "Linkedid",
        "Uniqueid",
        "Paused",
        "PausedReason",
        "CallerIDNum",
        "Position",
        "Status",
        "InCall",
        "Device",
        "State",
    ]
)
NAMES = st.sampled_from([*EVENTS, "Bogus", ""])
VALUES = st.one_of(
    st.sampled_from(["sales", "support", ANNA, BORIS, CALL, "1", "0", "lunch", "6", "UNAVAILABLE"]),
    st.text(max_size=100),
    st.lists(st.text(max_size=5), max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(NAMES, st.dictionaries(HEADERS, VALUES, max_size=8)), max_size=30))
def test_any_sequence_of_events_keeps_the_intervals_consistent(
    events: list[tuple[str, dict[str, Any]]],
) -> None:
    """Whatever arrives, each phone has at most one open state interval, opened once per
    close, only for known operators and queues, and the picture stays JSON."""
    tracker = ready_floor(hold=30, missed=1)
    open_states = {ANNA: 1, BORIS: 1}
    open_queues = {(ANNA, "sales"), (BORIS, "sales"), (BORIS, "support")}
    for n, (name, fields) in enumerate(events):
        for change in tracker.handle({**fields, "Event": name}, at(n)):
            if isinstance(change, OpenInterval):
                assert change.interface in (ANNA, BORIS) and change.user_id in (1, 2)
                # Never more than the table's columns keep (a longer value would refuse
                # the whole batch).
                assert len(change.reason or "") <= 64 and len(change.linkedid or "") <= 64
                if change.queue is None:
                    open_states[change.interface] = open_states.get(change.interface, 0) + 1
                else:
                    assert change.queue in ("sales", "support")
                    assert (change.interface, change.queue) not in open_queues
                    open_queues.add((change.interface, change.queue))
            elif isinstance(change, CloseInterval):
                if change.queue is None:
                    open_states[change.interface] -= 1
                else:
                    open_queues.remove((change.interface, change.queue))
            elif isinstance(change, PauseMember):
                assert change.interface in (ANNA, BORIS)
        assert all(count in (0, 1) for count in open_states.values())
        assert {w for w, c in open_states.items() if c} == set(tracker.floor.operators)
    assert tracker.floor.to_json()


def test_a_ring_on_a_caller_who_left_the_queue_unanswered_ends_a_second_later() -> None:
    tracker = ready_floor()
    caller = {"Linkedid": CALL, "Uniqueid": CALL, "CallerIDNum": "100"}
    play(
        tracker,
        (1, "QueueCallerJoin", {"Queue": "sales", **caller}),
        (2, "AgentCalled", {**member(), **caller}),
        (9, "QueueCallerLeave", {"Queue": "sales", **caller}),  # the queue's time is up
    )
    assert tracker.end_stale_rings(at(9.5)) == []  # an answer may still follow
    ended = tracker.end_stale_rings(at(10))
    assert states(ended) == [("ready", None)]
    assert [c.at for c in ended if isinstance(c, CloseInterval)] == [at(10)]


def test_an_answered_call_leaves_the_queue_and_is_not_a_stale_ring() -> None:
    tracker = ready_floor()
    play(tracker, *a_call()[:4])  # joined, rang, left the queue, answered
    assert tracker.end_stale_rings(at(30)) == []
    assert tracker.floor.operators[ANNA].state == AgentState.TALKING
