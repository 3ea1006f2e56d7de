"""The queue report counts every queue a call entered: overflows and transfers are legs.

Four calls move between reception (T = 20 s) and appointments (T = 30 s), each card with
the timeline the FastAGI server writes (`queue_overflow`, `transferred`, `answered`); the
figures are worked out by hand from METRICS.md, per queue (each queue a call entered) and
for the whole centre (each call once), on PostgreSQL and SQLite, from the cards and from
the daily roll-ups alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Call, CallEvent, Queue, ReportDay, User
from models.session import transaction
from reports.figures import QueueFigures, operator_figures, queue_report
from reports.rollup import roll_up_day
from tests.web.conftest import login
from tests.web.test_reports import (
    FIRST_DAY,
    MSK,
    PERIOD,
    SERVICE_LEVEL,
    SHORT,
    comparable,
    sqlite_cards,
    staff,
    stale_days,
    stop_supervising,
)
from tests.web.test_reports_pages import PERIOD_ARGS, csv_table

FIGURES = (
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "missed",
    "refused",
    "answered_within",
    "answered_wait_sec",
)


def _overflow(at: datetime, from_queue: str, status: str, to_queue: str) -> CallEvent:
    condition = "timeout" if status == "TIMEOUT" else "empty"
    return CallEvent(
        at=at,
        kind="queue_overflow",
        data={
            "from_queue": from_queue,
            "queue_status": status,
            "condition": condition,
            "hop": "1",
            "action": "queue",
            "to_queue": to_queue,
            "message": "",
            "reason": f"overflow_{condition}",
        },
    )


def _transfer(at: datetime, from_queue: str, to_queue: str) -> CallEvent:
    return CallEvent(
        at=at,
        kind="transferred",
        data={"from_queue": from_queue, "to_queue": to_queue, "reason": "transfer"},
    )


def _answer(at: datetime, operator: User) -> CallEvent:
    return CallEvent(
        at=at,
        kind="answered",
        data={
            "interface": f"PJSIP/{operator.extension}",
            "extension": operator.extension or "",
            "operator": operator.name,
        },
    )


def _rang(at: datetime, operator: User) -> CallEvent:
    return CallEvent(
        at=at, kind="operator_rang", data={"extension": operator.extension or "", "channel": "x"}
    )


def _card(
    session: Session,
    name: str,
    day: int,
    first_queue: str,
    last_queue: str,
    status: str,
    *,
    end: int,
    events: list[tuple[int, Any]],
    answered: tuple[int, str] | None = None,
    end_reason: str = "caller_hangup",
) -> None:
    """A card entering `first_queue` 5 s after it starts, at 10:00 on `day`; times in
    seconds from that entry. `events`: (second, a function of the moment and the staff)."""
    users = {user.login: user for user in session.scalars(select(User))}
    started = datetime.combine(FIRST_DAY + timedelta(days=day), time(10), MSK)
    entered = started + timedelta(seconds=5)
    answered_at = entered + timedelta(seconds=answered[0]) if answered else None
    call = Call(
        uniqueid=name,
        linkedid=name,
        queue=last_queue,
        direction="inbound",
        status=status,
        started_at=started,
        queue_entered_at=entered,
        answered_at=answered_at,
        ended_at=entered + timedelta(seconds=end),
        wait_sec=answered[0] if answered else end,
        talk_sec=end - answered[0] if answered else 0,
        hold_sec=0,
        end_reason=end_reason,
        operator_id=users[answered[1]].id if answered else None,
    )
    call.events = [CallEvent(at=entered, kind="route", data={"queue": first_queue})]
    call.events += [make(entered + timedelta(seconds=second), users) for second, make in events]
    session.add(call)


def moved_calls(session: Session) -> None:
    """The four calls, one a day from FIRST_DAY."""
    # Waited 60 s in appointments (TIMEOUT), answered 10 s after reaching reception.
    _card(
        session,
        "overflow-timeout",
        0,
        "appointments",
        "reception",
        "answered",
        end=170,
        answered=(70, "operator2"),
        events=[
            (20, lambda at, users: _rang(at, users["operator1"])),  # let it ring: a miss
            (60, lambda at, _: _overflow(at, "appointments", "TIMEOUT", "reception")),
            (70, lambda at, users: _answer(at, users["operator2"])),
        ],
    )
    # Refused by appointments at join (nobody logged in), hung up 4 s into reception.
    _card(
        session,
        "refused-then-abandoned",
        1,
        "appointments",
        "reception",
        "abandoned",
        end=6,
        end_reason="caller_hangup_queue",
        events=[(2, lambda at, _: _overflow(at, "appointments", "JOINEMPTY", "reception"))],
    )
    # Answered in reception after 15 s, transferred at 75 s, answered in appointments 20 s on.
    _card(
        session,
        "transfer-after-answer",
        2,
        "reception",
        "appointments",
        "answered",
        end=195,
        answered=(15, "operator2"),
        events=[
            (10, lambda at, users: _rang(at, users["operator1"])),
            (15, lambda at, users: _answer(at, users["operator1"])),
            (75, lambda at, _: _transfer(at, "reception", "appointments")),
            (95, lambda at, users: _answer(at, users["operator2"])),
        ],
    )
    # Appointments' wait ran out (40 s), reception answered 12 s on and transferred it back
    # to appointments, where the caller hung up after 30 s.
    _card(
        session,
        "moved-twice",
        3,
        "appointments",
        "appointments",
        "answered",
        end=142,
        answered=(52, "operator1"),
        events=[
            (40, lambda at, _: _overflow(at, "appointments", "TIMEOUT", "reception")),
            (52, lambda at, users: _answer(at, users["operator1"])),
            (112, lambda at, _: _transfer(at, "reception", "appointments")),
        ],
    )


#: By hand. appointments: overflow-timeout (missed, 60 s), refused-then-abandoned (refused),
#: transfer-after-answer (answered, 20 s), moved-twice (missed 40 s, then abandoned 30 s).
#: reception: overflow-timeout (answered, 10 s), refused-then-abandoned (abandoned 4 s:
#: short), transfer-after-answer (answered, 15 s), moved-twice (answered, 12 s).
PER_QUEUE = {
    "appointments": dict(
        offered=4,
        answered=1,
        abandoned=1,
        short_abandoned=0,
        missed=2,
        refused=1,
        answered_within=1,
        answered_wait_sec=20,
    ),
    "reception": dict(
        offered=4,
        answered=3,
        abandoned=1,
        short_abandoned=1,
        missed=0,
        refused=0,
        answered_within=3,
        answered_wait_sec=10 + 15 + 12,
    ),
}
#: Each call once, by the queue it ended in, its wait from its first queue: answered after
#: 70 s (reception, T 20: late), abandoned after 6 s (not short), answered after 15 s
#: (appointments, T 30: in time) and after 52 s.
CENTRE = dict(
    offered=4,
    answered=3,
    abandoned=1,
    short_abandoned=0,
    missed=0,
    refused=0,
    answered_within=1,
    answered_wait_sec=70 + 15 + 52,
)


def figures_of(row: QueueFigures) -> dict[str, Any]:
    return {name: getattr(row, name) for name in FIGURES}


@pytest.fixture
def postgresql_moves(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """The calls in the site's PostgreSQL test database (cards go back to the seed by conftest)."""
    with transaction(sessions) as session:
        before = dict(session.execute(select(Queue.name, Queue.service_level_sec)).all())
        for name, seconds in SERVICE_LEVEL.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )
        moved_calls(session)
    yield sessions
    with transaction(sessions) as session:
        for name, seconds in before.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )


@pytest.fixture(params=["postgresql", "sqlite"])
def moves(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    """The same calls on either database the site runs on."""
    if request.param == "sqlite":
        return sqlite_cards(tmp_path / "legs.sqlite", moved_calls)
    return request.getfixturevalue("postgresql_moves")


def report(
    factory: sessionmaker[Session], login: str = "admin", short: int = SHORT
) -> tuple[dict[str | None, dict[str, Any]], dict[str, Any]]:
    with factory() as session:
        found = queue_report(session, PERIOD, staff(session, login), short)
    return {row.queue: figures_of(row) for row in found.rows}, figures_of(found.total)


def test_each_queue_a_call_entered_counts_it_and_the_centre_counts_it_once(
    moves: sessionmaker[Session],
) -> None:
    rows, total = report(moves)
    assert rows == PER_QUEUE
    assert total == CENTRE
    # The queue rows add up to more offered calls than there were: each queue a call entered.
    assert sum(row["offered"] for row in rows.values()) == 8


def test_a_call_whose_wait_ran_out_is_missed_in_that_queue_with_its_wait_there(
    moves: sessionmaker[Session],
) -> None:
    with transaction(moves) as session:
        session.execute(delete(Call).where(Call.linkedid != "overflow-timeout"))
    rows, total = report(moves)
    assert rows["appointments"] == dict(
        offered=1,
        answered=0,
        abandoned=0,
        short_abandoned=0,
        missed=1,
        refused=0,
        answered_within=0,
        answered_wait_sec=0,
    )
    # Reception answered 10 s after the call reached it: in its 20 s, whatever came before.
    assert rows["reception"]["answered_within"] == 1
    assert rows["reception"]["answered_wait_sec"] == 10
    assert (total["answered_within"], total["answered_wait_sec"]) == (0, 70)


def test_a_call_refused_at_join_is_refused_there_and_offered_where_it_went(
    moves: sessionmaker[Session],
) -> None:
    with transaction(moves) as session:
        session.execute(delete(Call).where(Call.linkedid != "refused-then-abandoned"))
    rows, total = report(moves)
    assert (rows["appointments"]["offered"], rows["appointments"]["refused"]) == (0, 1)
    assert rows["reception"]["offered"] == rows["reception"]["short_abandoned"] == 1
    # 4 s after reaching reception is short there; 6 s after the first queue is not, overall.
    assert (total["offered"], total["refused"], total["short_abandoned"]) == (1, 0, 0)
    rows, _total = report(moves, short=3)
    assert rows["reception"]["short_abandoned"] == 0


def test_a_call_answered_then_transferred_is_answered_in_both_queues(
    moves: sessionmaker[Session],
) -> None:
    with transaction(moves) as session:
        session.execute(delete(Call).where(Call.linkedid != "transfer-after-answer"))
    rows, total = report(moves)
    assert {
        queue: (row["offered"], row["answered"], row["answered_wait_sec"])
        for queue, row in rows.items()
    } == {"reception": (1, 1, 15), "appointments": (1, 1, 20)}
    assert (total["offered"], total["answered"], total["answered_wait_sec"]) == (1, 1, 15)


def test_a_supervisor_sees_the_legs_in_their_queue_of_calls_that_ended_elsewhere(
    moves: sessionmaker[Session],
) -> None:
    stop_supervising(moves, "reception")
    rows, total = report(moves, "supervisor")
    assert rows == {"appointments": PER_QUEUE["appointments"]}
    # The total counts the calls of their queues: the two that ended in appointments.
    assert (total["offered"], total["answered"]) == (2, 2)


def test_an_operator_who_answered_and_transferred_a_call_did_not_miss_it(
    moves: sessionmaker[Session],
) -> None:
    with moves() as session:
        rows = {
            row.name: row for row in operator_figures(session, PERIOD, staff(session, "admin"), "-")
        }
    # Olga let the first call ring out (a miss), answered the third and transferred it: the
    # card names Ivan, who answered it in appointments, but Olga answered it too.
    assert rows["Ольга Операторова"].missed == 1


def rolled_up_and_raw(factory: sessionmaker[Session]) -> tuple[Any, Any]:
    """The queue and operator figures for both users read as the site reads them, then from
    the cards only."""
    logins = ("admin", "supervisor")
    with factory() as session:
        rolled = comparable(
            [
                (
                    queue_report(session, PERIOD, staff(session, login), short),
                    operator_figures(session, PERIOD, staff(session, login), "-"),
                )
                for login in logins
                for short in (SHORT, 3)
            ]
        )
    with factory() as session:
        session.execute(update(ReportDay).values(stale=True))
        raw = comparable(
            [
                (
                    queue_report(session, PERIOD, staff(session, login), short),
                    operator_figures(session, PERIOD, staff(session, login), "-"),
                )
                for login in logins
                for short in (SHORT, 3)
            ]
        )
        session.rollback()
    return rolled, raw


ROLLED_UP = {0, 1, 3}  # day 2 stays unrolled: the period mixes roll-ups and cards


def stale(factory: sessionmaker[Session]) -> set[int]:
    """Which of the rolled-up days are stale (the database may hold other tests' days)."""
    return stale_days(factory) & ROLLED_UP


def test_daily_rollups_count_the_legs_as_the_cards_do(moves: sessionmaker[Session]) -> None:
    for offset in ROLLED_UP:
        roll_up_day(moves, FIRST_DAY + timedelta(days=offset), MSK)
    rolled, raw = rolled_up_and_raw(moves)
    assert rolled == raw
    assert report(moves) == (PER_QUEUE, CENTRE)
    assert stale(moves) == set()
    # A changed timeline marks its day stale: the overflow of day 0 was a refusal at join.
    with transaction(moves) as session:
        overflow = session.scalar(
            select(CallEvent)
            .join(Call)
            .where(Call.linkedid == "overflow-timeout", CallEvent.kind == "queue_overflow")
        )
        assert overflow is not None
        overflow.data = {**overflow.data, "queue_status": "FULL"}
        # A transfer noted late (the journal's replay) on day 1, an answer moved on day 3.
        late = session.scalar(select(Call).where(Call.linkedid == "refused-then-abandoned"))
        assert late is not None and late.queue_entered_at is not None
        moment = late.queue_entered_at + timedelta(seconds=1)
        session.add(
            CallEvent(
                call_id=late.id,
                at=moment,
                kind="transferred",
                data={"from_queue": "appointments", "to_queue": "reception", "reason": "transfer"},
            )
        )
    assert stale(moves) == {0, 1}
    with transaction(moves) as session:
        twice = session.scalar(select(Call).where(Call.linkedid == "moved-twice"))
        assert twice is not None and twice.answered_at is not None
        twice.answered_at += timedelta(seconds=1)  # the card's answered_at alone
    assert stale(moves) == {0, 1, 3}
    rolled, raw = rolled_up_and_raw(moves)
    assert rolled == raw
    assert report(moves)[0]["appointments"]["refused"] == 2
    for offset in ROLLED_UP:
        roll_up_day(moves, FIRST_DAY + timedelta(days=offset), MSK)
    assert stale(moves) == set()
    rolled, raw = rolled_up_and_raw(moves)
    assert rolled == raw


@pytest.mark.usefixtures("postgresql_moves")
def test_the_queue_page_says_how_a_moved_call_counts_in_russian_and_english(
    client: FlaskClient,
) -> None:
    login(client, "admin")
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert "Звонок, перешедший между очередями" in page
    assert "в первой он предложен и пропущен, в следующей предложен" in page
    table = csv_table(client.get(f"/reports/queues?{PERIOD_ARGS}&format=csv").data)
    offered = {row[0]: row[table[0].index("Предложено")] for row in table[1:]}
    assert offered == {"Запись на приём": "4", "Регистратура": "4", "Все очереди": "4"}
    client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/reports/queues"}
    )
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert "A call that moved between queues" in page
    assert "Refused by the first as it arrived: refused there, offered in the next." in page
    assert "Each call once" in page
