"""The live floor from real calls: `callcards agi`'s floor listener on the sandbox Asterisk.

The queue `appointments` rings operator1's test phone (Local/101@cc-test-operators/n) only:
the other members are paused for the module. Its floor settings hold the operator in wrap-up
until the card is complete (60 s at most) and pause them after 2 rings missed in a row; its
ring timeout is 3 s so a missed ring is quick. Each test reads what the listener wrote:
operator1's intervals in `operator_states` and the `live_events` since the test began.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from callcards.sandbox.render import TEST_MEMBER_INTERFACE
from live.actions import SupervisorAction, supervise
from live.bus import EventKind, last_event_id
from models import AuditEntry, Call, LiveEvent, LiveFloor, LiveWrapup, OperatorState, Queue, User
from models.base import utcnow
from models.session import make_session_factory
from pbx.ami import AmiClient
from pbx.apply import apply_queues
from pbx.client import PbxClient
from pbx.pause import member_state, member_states, set_paused
from reports.period import Period
from reports.sessions import OperatorDay, own_day
from tests.agi_process import AgiProcess, free_port
from tests.asterisk_driver import AsteriskDriver, TestCall, restart_sandbox
from tests.card_polling import wait_card
from tests.conftest import ARTIFACTS, sandbox_ami_env
from tests.sandbox_site import sandbox_settings
from tests.test_calls_asterisk import CALLER, DID, reach_menu_and_press

pytestmark = pytest.mark.asterisk

QUEUE = "appointments"
ANNA = TEST_MEMBER_INTERFACE.format(extension="101")  # operator1's test phone
AWAY = "test: not here"


@dataclass(frozen=True)
class Floor:
    """The module's setting: the site's settings on the sandbox and operator1's id."""

    settings: Settings
    user_id: int
    agi: AgiProcess
    metrics_port: int
    started_at: datetime  # the floor's agi process started after this


def ami_client(info: SandboxInfo) -> AmiClient:
    return AmiClient(info.ami_host, int(info.ami_port), info.ami_user, info.ami_secret)


def others_away(info: SandboxInfo) -> None:
    """Every queue member but operator1 paused: only 101 takes the test calls."""
    with ami_client(info) as ami:
        for interface in member_states(ami):
            set_paused(ami, interface, interface != ANNA, AWAY if interface != ANNA else "")


def floor_agi(
    database_url: str, info: SandboxInfo, agi_port: int, template: str, **env: str
) -> AgiProcess:
    """`callcards agi` on the sandbox's port whose floor maps phones by `template`, started."""
    agi = AgiProcess(
        database_url,
        Path(info.recordings_dir),
        agi_port,
        ARTIFACTS / "callcards-agi-floor.log",
        extra_env={**sandbox_ami_env(info), "CALLCARDS_MEMBER_INTERFACE": template, **env},
    )
    agi.start()
    return agi


@pytest.fixture(scope="module")
def floor(
    engine: Engine,
    database_url: str,
    asterisk_sandbox: SandboxInfo,
    agi_port: int,
    agi_server: AgiProcess,
    open_clinic: None,
) -> Iterator[Floor]:
    """`callcards agi` whose floor knows the sandbox's test phones, and the queue's settings."""
    settings = sandbox_settings(asterisk_sandbox, database_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        queue = session.scalars(select(Queue).where(Queue.name == QUEUE)).one()
        before = (queue.ring_timeout_sec, queue.wrapup_hold_sec, queue.missed_rings_pause)
        queue.ring_timeout_sec, queue.wrapup_hold_sec, queue.missed_rings_pause = 3, 60, 2
        user = session.scalars(select(User).where(User.extension == "101")).one()
    with factory() as session:
        assert apply_queues(session, settings).ok
    others_away(asterisk_sandbox)
    agi_server.stop()
    metrics_port = free_port()
    started_at = utcnow()
    agi = floor_agi(
        database_url,
        asterisk_sandbox,
        agi_port,
        TEST_MEMBER_INTERFACE,
        CALLCARDS_AGI_METRICS_LISTEN=f"127.0.0.1:{metrics_port}",
    )
    yield Floor(settings, user.id, agi, metrics_port, started_at)
    agi.stop()
    with factory.begin() as session:
        queue = session.scalars(select(Queue).where(Queue.name == QUEUE)).one()
        queue.ring_timeout_sec, queue.wrapup_hold_sec, queue.missed_rings_pause = before
    with factory() as session:
        assert apply_queues(session, settings).ok
    with ami_client(asterisk_sandbox) as ami:
        for interface in member_states(ami):
            set_paused(ami, interface, False)
    agi_server.start()


@pytest.fixture
async def ami(
    floor: Floor, asterisk_sandbox: SandboxInfo, sessions: sessionmaker[Session]
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session placing calls; operator1 ready and answering at once; the floor live."""
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
        await driver.set_global("CC_TEST_TALK_TIME", "600")
        await floor_live(sessions, since=floor.started_at)  # this process's floor
        await state_becomes(
            sessions,
            floor.user_id,
            lambda row: row.state == "ready" and row.started_at >= floor.started_at,
        )
        yield driver


async def floor_live(sessions: sessionmaker[Session], since: datetime | None = None) -> None:
    """Until the listener has read the floor from AMI (after `since`)."""

    def live(session: Session) -> bool:
        row = session.get(LiveFloor, 1)
        return bool(row and row.ami_connected and (since is None or row.updated_at > since))

    await until(sessions, live, "the floor listener never read AMI")


async def until(
    sessions: sessionmaker[Session],
    check: Callable[[Session], object],
    why: str,
    timeout: float = 30.0,
) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sessions() as session:
            found = check(session)
            if found:
                return found
        await asyncio.sleep(0.2)
    raise AssertionError(why)


def open_state(session: Session, user_id: int) -> OperatorState | None:
    return session.scalar(
        select(OperatorState).where(
            OperatorState.user_id == user_id,
            OperatorState.queue.is_(None),
            OperatorState.ended_at.is_(None),
        )
    )


async def state_becomes(
    sessions: sessionmaker[Session],
    user_id: int,
    wanted: Callable[[OperatorState], bool],
    timeout: float = 30.0,
) -> OperatorState:
    def check(session: Session) -> OperatorState | None:
        row = open_state(session, user_id)
        return row if row is not None and wanted(row) else None

    found = await until(sessions, check, "operator1 never reached the state", timeout)
    assert isinstance(found, OperatorState)
    return found


def states_since(
    sessions: sessionmaker[Session], user_id: int, since: datetime
) -> list[OperatorState]:
    """operator1's state intervals that started at or after `since`, in order."""
    with sessions() as session:
        return list(
            session.scalars(
                select(OperatorState)
                .where(
                    OperatorState.user_id == user_id,
                    OperatorState.queue.is_(None),
                    OperatorState.started_at >= since,
                )
                .order_by(OperatorState.started_at, OperatorState.id)
            )
        )


def events_after(sessions: sessionmaker[Session], event_id: int) -> list[LiveEvent]:
    with sessions() as session:
        return list(
            session.scalars(select(LiveEvent).where(LiveEvent.id > event_id).order_by(LiveEvent.id))
        )


def first_event_id(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return last_event_id(session)


def complete_card(sessions: sessionmaker[Session], linkedid: str) -> None:
    """The operator saves a complete card (as the site's card form does)."""
    with sessions.begin() as session:
        session.execute(update(Call).where(Call.linkedid == linkedid).values(completed_at=utcnow()))


async def answered_then_hung_up(ami: AsteriskDriver, talk: float = 1.0) -> TestCall:
    """A caller presses 1, operator1 answers, they talk, the operator hangs up."""
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    connect = await ami.wait_for_operator(call, QUEUE)
    await asyncio.sleep(talk)
    await ami.operator_hangup(connect.destchannel)
    await ami.wait_hungup(call)
    return call


def described(rows: list[OperatorState]) -> list[tuple[str, str | None]]:
    return [(row.state, row.reason) for row in rows]


async def test_a_queue_call_rings_is_answered_and_held_in_wrapup_until_the_card_is_complete(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    since, after = utcnow(), first_event_id(sessions)
    call = await answered_then_hung_up(ami)
    wrapup = await state_becomes(sessions, floor.user_id, lambda row: row.state == "wrapup")
    assert wrapup.linkedid == call.linkedid
    with ami_client_for(floor) as client:  # held out of the queues by a real pause
        held = member_state(client, ANNA)
    assert (held.paused, held.reason) == (True, "wrap-up")

    await wait_card(sessions, call.linkedid)
    complete_card(sessions, call.linkedid)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")
    with ami_client_for(floor) as client:
        assert not member_state(client, ANNA).paused

    rows = states_since(sessions, floor.user_id, since)
    assert described(rows) == [
        ("ringing", None),
        ("talking", None),
        ("wrapup", None),
        ("ready", None),
    ]
    assert all(row.linkedid == call.linkedid for row in rows[:3])
    for done, following in zip(rows, rows[1:], strict=False):
        assert done.ended_at == following.started_at and not done.gap
    with sessions() as session:
        held_row = session.scalars(
            select(LiveWrapup).where(LiveWrapup.linkedid == call.linkedid)
        ).one()
    assert held_row.ended_by == "card_completed" and held_row.ended_at == rows[3].started_at

    events = events_after(sessions, after)
    kinds = [event.kind for event in events]
    ring = next(event for event in events if event.kind == EventKind.RINGING)
    assert (ring.user_id, ring.queue, ring.data["linkedid"], ring.data["number"]) == (
        floor.user_id,
        QUEUE,
        call.linkedid,
        CALLER,
    )
    joined = next(event for event in events if event.kind == EventKind.CALLER_JOINED)
    assert (joined.queue, joined.data["linkedid"]) == (QUEUE, call.linkedid)
    assert EventKind.CALLER_LEFT in kinds
    wrapups = [event.data for event in events if event.kind == EventKind.WRAPUP]
    assert "ends_at" in wrapups[0] and wrapups[1]["ended_by"] == "card_completed"
    states = [event.data["state"] for event in events if event.kind == EventKind.OPERATOR]
    assert states == ["ringing", "talking", "wrapup", "ready"]


def ami_client_for(floor: Floor) -> AmiClient:
    return AmiClient.from_settings(floor.settings)


async def test_a_supervisor_pauses_an_operator_for_a_reason_and_lets_them_go_on(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    since = utcnow()
    with sessions() as session:  # the audit rows before this test (other tests pause too)
        audited = session.scalar(select(func.max(AuditEntry.id))) or 0
    pbx = PbxClient(floor.settings)
    with sessions.begin() as session:
        boss = session.scalars(select(User).where(User.login == "supervisor")).one()
        operator = session.get_one(User, floor.user_id)
        done = supervise(
            session,
            pbx,
            supervisor=boss,
            operator=operator,
            action=SupervisorAction.PAUSE,
            reason="coaching",
            remote_addr="127.0.0.1",
        )
    assert (done.state.paused, done.state.reason) == (True, "coaching")
    await state_becomes(
        sessions, floor.user_id, lambda row: (row.state, row.reason) == ("paused", "coaching")
    )
    with sessions.begin() as session:
        boss = session.scalars(select(User).where(User.login == "supervisor")).one()
        supervise(
            session,
            pbx,
            supervisor=boss,
            operator=session.get_one(User, floor.user_id),
            action=SupervisorAction.UNPAUSE,
        )
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")
    assert described(states_since(sessions, floor.user_id, since)) == [
        ("paused", "coaching"),
        ("ready", None),
    ]
    with sessions() as session:
        audit = [
            (entry.user_id, entry.action, entry.detail["operator_id"], entry.detail["reason"])
            for entry in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.id > audited, AuditEntry.action.like("operator.supervisor_%"))
                .order_by(AuditEntry.id)
            )
        ]
    assert [row[1:] for row in audit] == [
        ("operator.supervisor_pause", floor.user_id, "coaching"),
        ("operator.supervisor_ready", floor.user_id, ""),
    ]


async def test_two_rings_missed_in_a_row_pause_the_operator_with_missed_calls(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    since = utcnow()
    await ami.set_global("CC_TEST_ANSWER_DELAY", "30")  # rings past the queue's 3 s
    call = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, call, "1")
    paused = await state_becomes(
        sessions, floor.user_id, lambda row: row.reason == "missed calls", timeout=60
    )
    assert paused.state == "paused"
    await ami.hangup(call)
    with ami_client_for(floor) as client:
        state = member_state(client, ANNA)
        assert (state.paused, state.reason) == (True, "missed calls")
        set_paused(client, ANNA, False)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")
    assert described(states_since(sessions, floor.user_id, since)) == [
        ("ringing", None),
        ("ready", None),
        ("ringing", None),
        ("paused", "missed calls"),
        ("ready", None),
    ]


async def test_asterisk_restarted_ends_intervals_as_a_gap_and_the_floor_resyncs(
    ami: AsteriskDriver,
    floor: Floor,
    sessions: sessionmaker[Session],
    asterisk_sandbox: SandboxInfo,
) -> None:
    since, after = utcnow(), first_event_id(sessions)
    with ami_client_for(floor) as client:
        set_paused(client, ANNA, True, "lunch")
    lunch = await state_becomes(sessions, floor.user_id, lambda row: row.reason == "lunch")
    await ami.close()

    await asyncio.to_thread(restart_sandbox, asterisk_sandbox)
    restarted = utcnow()
    others_away(asterisk_sandbox)  # Asterisk forgot every pause
    await floor_live(sessions, since=restarted)
    ready = await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")

    with sessions() as session:
        ended = session.get_one(OperatorState, lunch.id)
        membership = session.scalars(
            select(OperatorState).where(
                OperatorState.user_id == floor.user_id,
                OperatorState.queue == QUEUE,
                OperatorState.started_at < restarted,
                OperatorState.gap.is_(True),
            )
        ).all()
    assert ended.gap and ended.ended_at is not None and ended.ended_at <= restarted
    assert membership, "the queue membership ends as a gap too"
    # Nothing is invented for the time Asterisk was away: the next interval starts later.
    assert ready.started_at >= restarted > ended.ended_at
    rows = states_since(sessions, floor.user_id, since)
    assert described(rows) == [("paused", "lunch"), ("ready", None)]
    events = events_after(sessions, after)
    ami_events = [event.data["connected"] for event in events if event.kind == EventKind.AMI]
    assert ami_events[:2] == [False, True]
    assert any(event.kind == EventKind.FLOOR for event in events)


async def test_a_scripted_day_leaves_the_intervals_counted_by_hand(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    """Two calls, a lunch break, one ring missed before the second call is answered; the
    sessions report (reports/sessions.py) adds up the same day."""
    since = utcnow()
    before = today_in_report(sessions, floor.user_id)
    first = await answered_then_hung_up(ami)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "wrapup")
    await wait_card(sessions, first.linkedid)
    complete_card(sessions, first.linkedid)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")

    with ami_client_for(floor) as client:
        set_paused(client, ANNA, True, "lunch")
    await state_becomes(sessions, floor.user_id, lambda row: row.reason == "lunch")
    with ami_client_for(floor) as client:
        set_paused(client, ANNA, False)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")

    await ami.set_global("CC_TEST_ANSWER_DELAY", "30")  # the first ring is missed
    second = await ami.call(DID, CALLER)
    await reach_menu_and_press(ami, second, "1")
    await ami.wait_for(lambda e: e.event == "AgentRingNoAnswer", since=second.since, timeout=30)
    await ami.set_global("CC_TEST_ANSWER_DELAY", "0")  # the queue's next ring is answered
    connect = await ami.wait_for_operator(second, QUEUE, timeout=30)
    await asyncio.sleep(1.0)
    await ami.operator_hangup(connect.destchannel)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "wrapup")
    await wait_card(sessions, second.linkedid)
    complete_card(sessions, second.linkedid)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")

    rows = states_since(sessions, floor.user_id, since)
    assert described(rows) == [
        ("ringing", None),  # call 1
        ("talking", None),
        ("wrapup", None),
        ("ready", None),  # card 1 complete
        ("paused", "lunch"),
        ("ready", None),
        ("ringing", None),  # call 2, not answered in 3 s
        ("ready", None),
        ("ringing", None),  # call 2 again, answered
        ("talking", None),
        ("wrapup", None),
        ("ready", None),  # card 2 complete: one missed ring paused nobody
    ]
    counted: dict[str, int] = {}
    for row in rows:
        counted[row.state] = counted.get(row.state, 0) + 1
    assert counted == {"ringing": 3, "talking": 2, "wrapup": 2, "ready": 4, "paused": 1}
    # A day without holes: each interval ends where the next begins.
    assert all(a.ended_at == b.started_at for a, b in zip(rows, rows[1:], strict=False))
    assert [row.linkedid for row in rows if row.state == "talking"] == [
        first.linkedid,
        second.linkedid,
    ]
    # The sessions report over today moved by exactly this script's intervals.
    after = today_in_report(sessions, floor.user_id)

    def lasted(state: str) -> float:
        return sum(
            (row.ended_at - row.started_at).total_seconds()
            for row in rows
            if row.state == state and row.ended_at is not None
        )

    assert after.talk_sec - before.talk_sec == pytest.approx(lasted("talking"), abs=0.01)
    assert after.wrapup_sec - before.wrapup_sec == pytest.approx(lasted("wrapup"), abs=0.01)
    assert after.pauses.get("lunch", 0) - before.pauses.get("lunch", 0) == pytest.approx(
        lasted("paused"), abs=0.01
    )
    assert after.missed_rings - before.missed_rings == 1  # the ring of call 2 nobody took


def today_in_report(sessions: sessionmaker[Session], user_id: int) -> OperatorDay:
    """The operator's figures today (UTC days) as Reports -> Operator sessions counts them."""
    start = datetime.combine(utcnow().date(), datetime.min.time(), tzinfo=UTC)
    with sessions() as session:
        day = own_day(session, user_id, Period(start, start + timedelta(days=1), UTC))
    return day or OperatorDay(user_id, "", None)


async def test_the_agi_servers_metrics_show_the_floor_and_the_calls(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    call = await answered_then_hung_up(ami)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "wrapup")
    complete_card(sessions, (await wait_card(sessions, call.linkedid)).linkedid)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")
    reader, writer = await asyncio.open_connection("127.0.0.1", floor.metrics_port)
    writer.write(b"GET /metrics HTTP/1.0\r\n\r\n")
    answer = (await asyncio.wait_for(reader.read(), 5)).decode()
    writer.close()
    head, _, body = answer.partition("\r\n\r\n")
    assert head.startswith("HTTP/1.0 200")
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line and not line.startswith("#")
    }
    assert values["callcards_agi_floor_ami_connected"] == 1.0
    assert values['callcards_agi_floor_events_total{event="AgentCalled"}'] >= 1
    assert values['callcards_agi_floor_events_total{event="AgentComplete"}'] >= 1
    assert values['callcards_agi_session_seconds_count{route="incoming"}'] >= 1
    assert values["callcards_agi_command_seconds_count"] > 0
    assert values["callcards_agi_calls_in_progress"] == 0


async def test_a_break_taken_during_wrapup_starts_when_the_card_is_complete(
    ami: AsteriskDriver, floor: Floor, sessions: sessionmaker[Session]
) -> None:
    since = utcnow()
    call = await answered_then_hung_up(ami)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "wrapup")
    with ami_client_for(floor) as client:  # the operator asks for lunch on the workspace
        set_paused(client, ANNA, True, "lunch")
    await wait_card(sessions, call.linkedid)
    with sessions() as session:  # still wrapping up
        now = open_state(session, floor.user_id)
        assert now is not None and now.state == "wrapup"
    complete_card(sessions, call.linkedid)
    lunch = await state_becomes(sessions, floor.user_id, lambda row: row.reason == "lunch")
    with ami_client_for(floor) as client:  # they stay out of the queues
        state = member_state(client, ANNA)
        assert (state.paused, state.reason) == (True, "lunch")
        set_paused(client, ANNA, False)
    await state_becomes(sessions, floor.user_id, lambda row: row.state == "ready")
    rows = states_since(sessions, floor.user_id, since)
    assert described(rows) == [
        ("ringing", None),
        ("talking", None),
        ("wrapup", None),
        ("paused", "lunch"),
        ("ready", None),
    ]
    assert rows[2].ended_at == lunch.started_at
