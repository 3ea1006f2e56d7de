"""A caller who asked to be called back (virtual hold) is offered, and counted apart: never
abandoned, on the cards and in the daily roll-ups, on the page and in the CSV."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Call, Queue, ReportDay
from models.session import transaction
from reports.figures import QueueFigures, queue_report
from reports.rollup import roll_up_day
from tests.web.conftest import login
from tests.web.test_reports import FIRST_DAY, MSK, PERIOD, SHORT, comparable, sqlite_cards, staff
from tests.web.test_reports_legs import _card
from tests.web.test_reports_pages import PERIOD_ARGS, csv_table


def waiting_callers(session: Session) -> None:
    """In appointments on day 3: one caller hung up after 40 s, one pressed the callback key
    after 60 s, one was answered after 10 s."""
    _card(
        session,
        "vhold-abandoned",
        3,
        "appointments",
        "appointments",
        "abandoned",
        end=40,
        end_reason="caller_hangup_queue",
        events=[],
    )
    _card(
        session,
        "vhold-callback",
        3,
        "appointments",
        "appointments",
        "callback_requested",
        end=75,
        end_reason="callback_requested",
        events=[],
    )
    _card(
        session,
        "vhold-answered",
        3,
        "appointments",
        "appointments",
        "answered",
        end=90,
        answered=(10, "operator1"),
        events=[],
    )
    session.flush()
    session.execute(
        update(Call).where(Call.linkedid == "vhold-callback").values(callback_number="79161234567")
    )


@pytest.fixture
def postgresql_callers(sessions: sessionmaker[Session]) -> Iterator[sessionmaker[Session]]:
    """The calls in the site's PostgreSQL test database (cards go back to the seed by conftest)."""
    with transaction(sessions) as session:
        session.execute(
            update(Queue).where(Queue.name == "appointments").values(service_level_sec=30)
        )
        waiting_callers(session)
    yield sessions


@pytest.fixture(params=["postgresql", "sqlite"])
def callers(request: pytest.FixtureRequest, tmp_path: Path) -> sessionmaker[Session]:
    if request.param == "sqlite":
        return sqlite_cards(tmp_path / "callbacks.sqlite", waiting_callers)
    return request.getfixturevalue("postgresql_callers")


def appointments(factory: sessionmaker[Session]) -> tuple[QueueFigures, QueueFigures]:
    """appointments' row and the total, for the admin."""
    with factory() as session:
        found = queue_report(session, PERIOD, staff(session, "admin"), SHORT)
    [row] = [row for row in found.rows if row.queue == "appointments"]
    return row, found.total


def test_a_callback_request_is_offered_and_counted_apart_never_abandoned(
    callers: sessionmaker[Session],
) -> None:
    for figures in appointments(callers):
        assert (figures.offered, figures.answered, figures.abandoned, figures.missed) == (
            3,
            1,
            1,
            0,
        )
        assert figures.callback_requested == 1
        assert figures.abandon_rate == pytest.approx(100 / 3)  # the one who hung up only


def test_daily_rollups_count_the_callback_requests_as_the_cards_do(
    callers: sessionmaker[Session],
) -> None:
    from_cards = comparable(appointments(callers))
    roll_up_day(callers, FIRST_DAY + timedelta(days=3), MSK)
    with callers() as session:
        day = session.scalar(
            select(ReportDay).where(ReportDay.day == FIRST_DAY + timedelta(days=3))
        )
        assert day is not None and not day.stale
    assert comparable(appointments(callers)) == from_cards


@pytest.mark.usefixtures("postgresql_callers")
def test_the_queue_page_and_csv_have_a_callback_requested_column(client: FlaskClient) -> None:
    login(client, "admin")
    table = csv_table(client.get(f"/reports/queues?{PERIOD_ARGS}&format=csv").data)
    rows = [dict(zip(table[0], line, strict=True)) for line in table[1:]]
    [row] = [row for row in rows if row["Очередь"] == "Запись на приём"]
    assert (row["Предложено"], row["Брошено"], row["Просят перезвонить"]) == ("3", "1", "1")
    client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/reports/queues"}
    )
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert "Callback requested" in page
    assert "left a number to be called back on" in page


@pytest.mark.usefixtures("postgresql_callers")
def test_the_calls_list_filters_and_the_card_shows_a_callback_request(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    with sessions() as session:
        card = session.scalars(select(Call).where(Call.linkedid == "vhold-callback")).one()
    listed = client.get(f"/calls?{PERIOD_ARGS}&status=callback_requested").text
    assert "просит перезвонить" in listed
    assert f"/calls/{card.id}" in listed
    shown = client.get(f"/calls/{card.id}").text
    assert "79161234567" in shown and 'id="callback-number"' in shown
    assert "абонент попросил перезвонить" in shown  # the reason
    assert "Попросил перезвонить на свой номер" not in shown  # no timeline entry here
