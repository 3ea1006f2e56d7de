"""The report pages: chart data, table, definitions, CSV for Excel, period and role checks."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Queue, queue_supervisors, utcnow
from models.session import transaction
from tests.web.conftest import login, make_settings, user_id
from tests.web.test_reports import (  # noqa: F401 (a fixture, used by name)
    MSK,
    postgresql_cards,
)
from webadmin import create_app

PERIOD_ARGS = "from=2026-03-02&to=2026-03-15"
BOM = "\ufeff"


def chart_data(page: str) -> dict[str, object]:
    """The JSON block reports.js draws the charts from."""
    found = re.search(
        r'<script type="application/json" id="report-charts">(.*?)</script>', page, re.S
    )
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def csv_table(body: bytes) -> list[list[str]]:
    """A downloaded CSV as Excel would read it: UTF-8 with BOM, ';'-separated."""
    assert body.startswith(BOM.encode())
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=";"))


@pytest.mark.usefixtures("postgresql_cards")
def test_queue_report_shows_chart_table_and_definitions(client: FlaskClient) -> None:
    login(client, "supervisor")
    response = client.get(f"/reports/queues?{PERIOD_ARGS}")
    assert response.status_code == 200
    page = response.text
    assert 'data-chart="queues"' in page and 'id="queue-table"' in page
    assert "vendor/chart.umd.min.js" in page and "reports.js" in page
    charts = chart_data(page)["queues"]
    assert isinstance(charts, dict)
    assert set(charts["labels"]) == {"Запись на приём", "Регистратура"}
    # Each figure's definition is on the page, with the thresholds in force.
    assert "(брошено − короткие сбросы) / (предложено − короткие сбросы) × 100" in page
    assert "N = 5 с" in page and "Некоторые системы делят только на отвеченные" in page
    assert "<script>" not in page  # the CSP allows no inline script


@pytest.mark.usefixtures("postgresql_cards")
def test_queue_csv_opens_in_excel_with_cyrillic_and_the_same_figures(client: FlaskClient) -> None:
    login(client, "admin")
    response = client.get(f"/reports/queues?{PERIOD_ARGS}&format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = csv_table(response.data)
    header, rows = table[0], {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
    assert header[:3] == ["Очередь", "T, с", "Предложено"]
    reception = rows["Регистратура"]
    assert reception["Предложено"] == "8" and reception["Отвечено"] == "3"
    assert reception["Доля ответов, %"] == "37,5"  # a decimal comma for Russian Excel
    assert rows["До очереди"]["В нерабочее время"] == "2"
    assert "Все очереди" in rows


@pytest.mark.usefixtures("postgresql_cards")
def test_supervisor_of_one_queue_does_not_see_the_others_calls(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        appointments = session.scalar(select(Queue.id).where(Queue.name == "appointments"))
        session.execute(
            queue_supervisors.delete().where(
                queue_supervisors.c.user_id == user_id(sessions, "supervisor"),
                queue_supervisors.c.queue_id == appointments,
            )
        )
    login(client, "supervisor")
    table = csv_table(client.get(f"/reports/queues?{PERIOD_ARGS}&format=csv").data)
    assert [row[0] for row in table[1:]] == ["Регистратура", "Все очереди"]
    page = client.get(f"/reports/queues?{PERIOD_ARGS}").text
    assert chart_data(page)["queues"]["labels"] == ["Регистратура"]  # type: ignore[index]
    categories = csv_table(client.get(f"/reports/categories?{PERIOD_ARGS}&format=csv").data)
    assert {row[0]: row[1] for row in categories[1:]}["category 2"] == "1"  # not 2


@pytest.mark.usefixtures("postgresql_cards")
def test_operator_report_lists_each_operator_with_purposes(client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get(f"/reports/operators?{PERIOD_ARGS}").text
    assert 'data-chart="operators"' in page and 'id="purpose-table"' in page
    assert chart_data(page)["operators"]["labels"] == [  # type: ignore[index]
        "Иван Петров",
        "Ольга Операторова",
    ]
    table = csv_table(client.get(f"/reports/operators?{PERIOD_ARGS}&format=csv").data)
    rows = {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
    olga = rows["Ольга Операторова"]
    assert olga["Отвечено"] == "4" and olga["Пропущено"] == "2"
    assert olga["AHT"] == "182,5" and olga["purpose 3"] == "1"
    assert rows["Все операторы"]["Отвечено"] == "7"


@pytest.mark.usefixtures("postgresql_cards")
def test_category_report_counts_per_iso_week(client: FlaskClient) -> None:
    login(client, "admin")
    page = client.get(f"/reports/categories?{PERIOD_ARGS}").text
    assert chart_data(page)["weeks"]["labels"] == ["2026-W10", "2026-W11"]  # type: ignore[index]
    table = csv_table(client.get(f"/reports/categories?{PERIOD_ARGS}&format=csv").data)
    assert table[0][-2:] == ["2026-W10", "2026-W11"]
    rows = {row[0]: row for row in table[1:]}
    # cards, callbacks, their share, FCR declared and measured, then the weeks
    assert rows["category 0"][1:] == ["2", "1", "50,0", "100,0", "0,0", "2", "0"]


@pytest.mark.usefixtures("postgresql_cards")
def test_first_call_resolution_columns_carry_their_formulas_and_go_into_the_csv(
    client: FlaskClient,
) -> None:
    login(client, "admin")
    page = client.get(f"/reports/operators?{PERIOD_ARGS}").text
    assert "Решено с первого звонка (измерено), %" in page
    assert "с которого не звонили снова в течение N дней (N = 7)" in page
    assert "анонимные номера не учитываются ни там, ни там" in page
    table = csv_table(client.get(f"/reports/operators?{PERIOD_ARGS}&format=csv").data)
    rows = {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}
    declared = "Решено с первого звонка (отмечено), %"
    measured = "Решено с первого звонка (измерено), %"
    # tests/web/test_reports.py: the oracle and the hand count of these cards.
    assert (rows["Ольга Операторова"][declared], rows["Ольга Операторова"][measured]) == (
        "33,3",
        "66,7",
    )
    assert (rows["Все операторы"][declared], rows["Все операторы"][measured]) == ("50,0", "40,0")
    categories = csv_table(client.get(f"/reports/categories?{PERIOD_ARGS}&format=csv").data)
    assert declared in categories[0] and measured in categories[0]
    client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/reports/categories"}
    )
    page = client.get(f"/reports/categories?{PERIOD_ARGS}").text
    assert "FCR declared, %" in page and "FCR measured, %" in page
    assert "did not call again within N days (N = 7)" in page


@pytest.mark.usefixtures("postgresql_cards")
def test_the_first_call_window_comes_from_the_settings(
    web_database_url: str, recordings_dir: Path
) -> None:
    settings = replace(make_settings(web_database_url, recordings_dir), fcr_repeat_days=11)
    client = create_app(
        settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False}
    ).test_client()
    login(client, "admin")
    assert "(N = 11)" in client.get(f"/reports/operators?{PERIOD_ARGS}").text
    table = csv_table(client.get(f"/reports/operators?{PERIOD_ARGS}&format=csv").data)
    olga = {row[0]: dict(zip(table[0], row, strict=True)) for row in table[1:]}["Ольга Операторова"]
    # Her caller of ten days on now counts as calling again.
    assert olga["Решено с первого звонка (измерено), %"] == "33,3"


def test_the_default_period_is_the_last_seven_days(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    now = utcnow()
    make_call(queue_entered_at=now - timedelta(minutes=10), started_at=now - timedelta(minutes=10))
    make_call(queue_entered_at=now - timedelta(days=8), started_at=now - timedelta(days=8))
    login(client, "admin")
    page = client.get("/reports/queues").text
    today = datetime.now(MSK).date()
    assert f'value="{(today - timedelta(days=6)).isoformat()}"' in page
    assert f'value="{today.isoformat()}"' in page
    table = csv_table(client.get("/reports/queues?format=csv").data)
    assert {row[0]: row[2] for row in table[1:]}["Регистратура"] == "1"


@pytest.mark.parametrize("args", ["from=2026-13-01", "from=2026-03-10&to=2026-03-01", "short=abc"])
def test_a_bad_period_is_refused_with_a_message(client: FlaskClient, args: str) -> None:
    login(client, "supervisor")
    response = client.get(f"/reports/queues?{args}")
    assert response.status_code == 400
    assert 'class="field-error"' in response.text


def test_operators_have_no_reports(client: FlaskClient) -> None:
    login(client, "operator1")
    assert client.get("/reports/queues").status_code == 403
    assert client.get("/reports/queues?format=csv").status_code == 403
    assert "/reports" not in client.get("/calls").text  # nor a link to them
