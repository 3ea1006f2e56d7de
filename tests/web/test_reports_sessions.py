"""Reports → Operator sessions: the tables, their formulas, CSV, scope, both languages, and
hostile periods; the figures are the hand-counted day of tests/test_sessions_report.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from models import Queue, QueueMember, User
from models.live import OperatorState
from models.session import transaction
from tests.test_sessions_report import script_the_day
from tests.web.conftest import login
from tests.web.test_reports_pages import csv_table

ARGS = "from=2026-03-10&to=2026-03-11"


@pytest.fixture
def scripted_day(sessions: sessionmaker[Session]) -> Iterator[None]:
    """Operator1's and operator2's scripted day; the intervals are gone after the test."""
    script_the_day(sessions)
    yield
    with transaction(sessions) as session:
        session.execute(delete(OperatorState))


def _rows(client: FlaskClient, table: str) -> dict[tuple[str, str], dict[str, str]]:
    response = client.get(f"/reports/sessions?{ARGS}&format=csv&table={table}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    found = csv_table(response.data)
    return {(row[0], row[1]): dict(zip(found[0], row, strict=True)) for row in found[1:]}


@pytest.mark.usefixtures("scripted_day")
def test_the_page_shows_both_tables_with_their_formulas_in_russian(client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get(f"/reports/sessions?{ARGS}").text
    assert 'id="session-table"' in page and 'id="staffing-table"' in page
    assert "Сеансы операторов" in page
    assert "(разговор + удержание + обработка) / (в системе − на паузе) × 100" in page
    # Operator1's first day: logged in 15.5 h, talk 8:40, occupancy 700 / 33300.
    assert "15:30:00" in page and "8:40" in page and "2,1" in page
    assert 'id="csv-operators"' in page and 'id="csv-queues"' in page
    assert "<script>" not in page


@pytest.mark.usefixtures("scripted_day")
def test_the_page_speaks_english_when_chosen(client: FlaskClient) -> None:
    login(client, "admin")
    client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/reports/sessions"}
    )
    page = client.get(f"/reports/sessions?{ARGS}").text
    assert "Operator sessions" in page and "Missed rings" in page
    assert "(talk + hold + wrap-up) / (logged in − paused) × 100" in page
    assert "Most logged in at once" in page and "2.1" in page


@pytest.mark.usefixtures("scripted_day")
def test_each_table_downloads_as_csv_with_the_hand_counted_figures(client: FlaskClient) -> None:
    login(client, "admin")
    operators = _rows(client, "operators")
    first = operators["Ольга Операторова", "2026-03-10"]
    assert first["В системе"] == "55800,0"
    assert first["Разговор"] == "520,0" and first["На удержании"] == "60,0"
    assert first["Обработка"] == "120,0" and first["На паузе"] == "22500,0"
    assert first["Перерыв"] == "20100,0" and first["Обед"] == "2400,0"
    assert first["Пропущенные звонки"] == "1" and first["Время неизвестно"] == "600,0"
    assert first["Занятость, %"] == "2,1"
    assert ("Все операторы", "") in operators
    queues = _rows(client, "queues")
    reception = queues["Регистратура", "2026-03-10"]
    assert reception["Наибольшее число в системе одновременно"] == "2"
    assert list(reception.values())[2] == "46800,0"


@pytest.mark.usefixtures("scripted_day")
def test_a_supervisor_sees_the_operators_of_their_queues_only(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        supervisor = session.scalar(select(User).where(User.login == "supervisor"))
        appointments = session.scalar(select(Queue).where(Queue.name == "appointments"))
        two = session.scalar(select(User).where(User.login == "operator2"))
        assert supervisor is not None and appointments is not None and two is not None
        supervisor.supervised_queues = [appointments]
        session.execute(
            delete(QueueMember).where(
                QueueMember.user_id == two.id, QueueMember.queue_id == appointments.id
            )
        )
    login(client, "supervisor")
    operators = _rows(client, "operators")
    assert {name for name, _day in operators} == {"Ольга Операторова", "Все операторы"}
    queues = _rows(client, "queues")
    assert {name for name, _day in queues} == {"Запись на приём"}
    assert "Иван Петров" not in client.get(f"/reports/sessions?{ARGS}").text


def test_an_operator_may_not_read_it(client: FlaskClient) -> None:
    login(client, "operator1")
    assert client.get(f"/reports/sessions?{ARGS}").status_code == 403


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-02-30",
        "from=1999-12-31&to=2000-01-02",
        "from=2020-01-01&to=2026-01-01",
        "to=9999-12-31",
        "from=" + "9" * 400,
    ],
)
def test_a_hostile_period_is_refused_clearly(client: FlaskClient, query: str) -> None:
    login(client, "admin")
    response = client.get(f"/reports/sessions?{query}")
    assert response.status_code == 400
    assert 'class="field-error"' in response.text


def test_a_nul_in_the_period_is_refused_before_the_report(client: FlaskClient) -> None:
    login(client, "admin")
    assert client.get("/reports/sessions?from=2026-03-10&to=%00").status_code == 400


def test_an_unknown_table_is_refused_clearly(client: FlaskClient) -> None:
    login(client, "admin")
    response = client.get(f"/reports/sessions?{ARGS}&format=csv&table=../../etc/passwd")
    assert response.status_code == 400
