"""The centre's total ("All queues") takes the caller's view across every queue a call entered.

Four calls cross from appointments (T = 30 s) to reception (T = 20 s), one a day from the
fifth day of the period, each card with the timeline the FastAGI server writes. The total is
worked out twice: by a plain-Python oracle of METRICS.md's rule (offered if any queue took
the call; answered, abandoned or missed by how its last stint in a queue ended; refused only
if no queue ever took it), and by hand; on PostgreSQL and SQLite, from the cards and from
the daily roll-ups alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Call, Queue, ReportDay
from models.session import transaction
from reports.figures import queue_report
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
)
from tests.web.test_reports_legs import FIGURES, _answer, _card, _overflow, figures_of
from tests.web.test_reports_pages import PERIOD_ARGS, csv_table

#: Each call's stints in the queues it entered, in order: the queue and how it ended there.
JOURNEYS = {
    # Waited in appointments until its last operator left (LEAVEEMPTY, the EXITEMPTY),
    # then reception refused it at the door (JOINEMPTY): the caller really waited.
    "waited-then-refused": [("appointments", "missed"), ("reception", "refused")],
    "refused-then-answered": [("appointments", "refused"), ("reception", "answered")],
    "refused-everywhere": [("appointments", "refused"), ("reception", "refused")],
    "timeout-then-abandoned": [("appointments", "missed"), ("reception", "abandoned")],
}


def crossing_calls(session: Session) -> None:
    """The four journeys as cards, on days 4 to 7."""
    _card(
        session,
        "waited-then-refused",
        4,
        "appointments",
        "reception",
        "missed",
        end=31,
        end_reason="no_operator",
        events=[
            (30, lambda at, _: _overflow(at, "appointments", "LEAVEEMPTY", "reception")),
            (31, lambda at, _: _overflow(at, "reception", "JOINEMPTY", "")),
        ],
    )
    _card(
        session,
        "refused-then-answered",
        5,
        "appointments",
        "reception",
        "answered",
        end=100,
        answered=(13, "operator2"),
        events=[
            (1, lambda at, _: _overflow(at, "appointments", "JOINEMPTY", "reception")),
            (13, lambda at, users: _answer(at, users["operator2"])),
        ],
    )
    _card(
        session,
        "refused-everywhere",
        6,
        "appointments",
        "reception",
        "missed",
        end=2,
        end_reason="no_operator",
        events=[
            (1, lambda at, _: _overflow(at, "appointments", "JOINEMPTY", "reception")),
            (2, lambda at, _: _overflow(at, "reception", "JOINEMPTY", "")),
        ],
    )
    _card(
        session,
        "timeout-then-abandoned",
        7,
        "appointments",
        "reception",
        "abandoned",
        end=50,
        end_reason="caller_hangup_queue",
        events=[(30, lambda at, _: _overflow(at, "appointments", "TIMEOUT", "reception"))],
    )


def callers_view(stints: list[tuple[str, str]]) -> str:
    """METRICS.md's rule for one call: how its last stint in a queue that took it ended, or
    refused when none did."""
    taken = [outcome for _queue, outcome in stints if outcome != "refused"]
    return taken[-1] if taken else "refused"


def oracle_total(journeys: dict[str, list[tuple[str, str]]]) -> dict[str, int]:
    """Offered, answered, abandoned, missed, refused over the calls, each once."""
    views = [callers_view(stints) for stints in journeys.values()]
    outcomes = ("answered", "abandoned", "missed", "refused")
    counts = {outcome: views.count(outcome) for outcome in outcomes}
    return {"offered": len(views) - counts["refused"], **counts}


#: By hand. Offered: all but the one refused everywhere. The answered call waited 13 s from
#: its first queue (in reception's 20 s); the abandon came 50 s after it: not short.
CENTRE = dict(
    offered=3,
    answered=1,
    abandoned=1,
    short_abandoned=0,
    missed=1,
    refused=1,
    answered_within=1,
    answered_wait_sec=13,
)
#: Each queue a call entered: appointments took two (both left it: missed) and refused two;
#: reception refused two, answered one 12 s after it arrived and lost one 20 s after.
PER_QUEUE = {
    "appointments": dict(
        offered=2,
        answered=0,
        abandoned=0,
        short_abandoned=0,
        missed=2,
        refused=2,
        answered_within=0,
        answered_wait_sec=0,
    ),
    "reception": dict(
        offered=2,
        answered=1,
        abandoned=1,
        short_abandoned=0,
        missed=0,
        refused=2,
        answered_within=1,
        answered_wait_sec=12,
    ),
}


@pytest.fixture
def postgresql_crossing(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """The calls in the site's PostgreSQL test database (cards go back to the seed by conftest)."""
    with transaction(sessions) as session:
        before = dict(session.execute(select(Queue.name, Queue.service_level_sec)).all())
        for name, seconds in SERVICE_LEVEL.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )
        crossing_calls(session)
    yield sessions
    with transaction(sessions) as session:
        for name, seconds in before.items():
            session.execute(
                update(Queue).where(Queue.name == name).values(service_level_sec=seconds)
            )


@pytest.fixture(params=["postgresql", "sqlite"])
def crossing(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    """The same calls on either database the site runs on."""
    if request.param == "sqlite":
        return sqlite_cards(tmp_path / "totals.sqlite", crossing_calls)
    return request.getfixturevalue("postgresql_crossing")


def report(
    factory: sessionmaker[Session], login: str = "admin"
) -> tuple[dict[str | None, dict[str, Any]], dict[str, Any]]:
    with factory() as session:
        found = queue_report(session, PERIOD, staff(session, login), SHORT)
    return {row.queue: figures_of(row) for row in found.rows}, figures_of(found.total)


def only(factory: sessionmaker[Session], name: str) -> dict[str, Any]:
    """The total with the other calls of the journeys deleted."""
    with transaction(factory) as session:
        for call in session.scalars(
            select(Call).where(Call.linkedid.in_(list(JOURNEYS)), Call.linkedid != name)
        ):
            session.delete(call)
    return report(factory)[1]


def test_the_total_takes_the_callers_view_across_every_queue_a_call_entered(
    crossing: sessionmaker[Session],
) -> None:
    rows, total = report(crossing)
    assert {key: total[key] for key in oracle_total(JOURNEYS)} == oracle_total(JOURNEYS)
    assert total == CENTRE
    assert rows == PER_QUEUE
    with crossing() as session:
        found = queue_report(session, PERIOD, staff(session, "admin"), SHORT).total
    assert found.answer_rate == pytest.approx(100 / 3)
    assert found.abandon_rate == pytest.approx(100 / 3)
    assert found.service_level == pytest.approx(100 / 3)


def test_a_caller_who_waited_and_was_then_refused_at_the_overflow_queue_was_offered_and_missed(
    crossing: sessionmaker[Session],
) -> None:
    total = only(crossing, "waited-then-refused")
    assert (total["offered"], total["missed"], total["refused"]) == (1, 1, 0)


def test_a_caller_refused_by_the_first_queue_and_answered_in_the_next_was_answered(
    crossing: sessionmaker[Session],
) -> None:
    total = only(crossing, "refused-then-answered")
    assert (total["offered"], total["answered"], total["refused"]) == (1, 1, 0)
    assert total["answered_wait_sec"] == 13  # from the first queue, as ASA counts it


def test_a_caller_refused_by_every_queue_is_refused_once_and_not_offered(
    crossing: sessionmaker[Session],
) -> None:
    total = only(crossing, "refused-everywhere")
    assert (total["offered"], total["refused"], total["missed"]) == (0, 1, 0)


def test_a_caller_who_hung_up_in_the_overflow_queue_after_a_timeout_abandoned(
    crossing: sessionmaker[Session],
) -> None:
    total = only(crossing, "timeout-then-abandoned")
    assert (total["offered"], total["abandoned"], total["missed"]) == (1, 1, 0)


def test_a_call_still_waiting_in_the_overflow_queue_counts_in_the_total_once_it_ends(
    crossing: sessionmaker[Session],
) -> None:
    with transaction(crossing) as session:
        _card(
            session,
            "still-waiting",
            8,
            "appointments",
            "reception",
            "answered",
            end=40,
            events=[(30, lambda at, _: _overflow(at, "appointments", "TIMEOUT", "reception"))],
        )
        session.flush()
        session.execute(
            update(Call)
            .where(Call.linkedid == "still-waiting")
            .values(status="ringing", ended_at=None, end_reason=None, wait_sec=None, talk_sec=None)
        )
    rows, total = report(crossing)
    assert total == CENTRE
    # Appointments' wait ran out: that leg is over, and counted there.
    assert (rows["appointments"]["offered"], rows["appointments"]["missed"]) == (3, 3)


def test_daily_rollups_give_the_callers_view_as_the_cards_do(
    crossing: sessionmaker[Session],
) -> None:
    for offset in (4, 5, 7):  # day 6 stays unrolled: the period mixes roll-ups and cards
        roll_up_day(crossing, FIRST_DAY + timedelta(days=offset), MSK)
    assert report(crossing) == (PER_QUEUE, CENTRE)
    logins = ("admin", "supervisor")
    with crossing() as session:
        rolled = comparable(
            [queue_report(session, PERIOD, staff(session, login), SHORT) for login in logins]
        )
        session.execute(update(ReportDay).values(stale=True))
        raw = comparable(
            [queue_report(session, PERIOD, staff(session, login), SHORT) for login in logins]
        )
        session.rollback()
    assert rolled == raw


@pytest.mark.usefixtures("postgresql_crossing")
def test_the_queue_page_and_its_csv_show_the_callers_view_total(client: FlaskClient) -> None:
    login(client, "admin")
    table = csv_table(client.get(f"/reports/queues?{PERIOD_ARGS}&format=csv").data)
    total = dict(zip(table[0], table[-1], strict=True))
    assert total["Очередь"] == "Все очереди"
    assert (total["Предложено"], total["Отклонено"]) == ("3", "1")
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert "отклонён, только если его не приняла ни одна очередь" in page
    client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/reports/queues"}
    )
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert "refused only if no queue ever took it" in page


assert set(FIGURES) == set(CENTRE)
