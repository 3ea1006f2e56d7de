"""Hostile input on the site and the API: SQL-looking filters, forged CSRF tokens, and each
class of odd input (ids past 64 bits, other digits, calendar edges, nested JSON, long periods,
slow statements) refused with a clear 4xx or 503."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Call, utcnow
from models.routing import Did, Schedule
from tests.web.conftest import login, make_settings
from webadmin import create_app
from webadmin.extensions import db

SQL_LOOKING = [
    "' OR 1=1 --",
    "1; DROP TABLE calls; --",
    "reception' UNION SELECT password_hash FROM users --",
    "%' AND pg_sleep(5) --",
    "\\x00\\u0000",
]


@pytest.mark.parametrize("value", SQL_LOOKING)
@pytest.mark.parametrize("name", ["q", "queue", "status", "operator", "from", "tag", "sort"])
def test_sql_looking_filter_values_are_plain_text_or_a_clear_error(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    make_call: Callable[..., int],
    name: str,
    value: str,
) -> None:
    make_call(queue="reception")
    login(client, "supervisor")
    page = client.get("/calls", query_string={name: value})
    api = client.get("/api/calls", query_string={name: value})
    assert page.status_code in {200, 400}, page.status_code
    assert api.status_code in {200, 400}, api.status_code
    if api.status_code == 400:  # a message naming the bad filter, never a database error
        assert api.json["error"]["code"] == "bad_filter"
        assert name in api.json["error"].get("fields", {}) or api.json["error"]["message"]
    else:
        assert isinstance(api.json["data"], list)
        if name == "queue":  # taken literally: no queue has that name
            assert api.json["data"] == []
    with sessions() as session:  # and the table is still there, whole
        assert session.scalar(select(func.count()).select_from(Call)) >= 1


def test_a_forged_csrf_token_is_refused_like_a_missing_one(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    client.get("/login")
    response = client.post(
        "/login", data={"login": "admin", "password": "admin", "csrf_token": "forged.token.value"}
    )
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_a_nul_character_anywhere_is_a_clear_400_not_a_database_error(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    posted = client.post(
        "/api/calls",
        json={
            "direction": "inbound",
            "status": "abandoned",
            "started_at": "2026-11-20T10:00:00Z",
            "queue": "\x00",
        },
    )
    listed = client.get("/calls", query_string={"q": "12\x00"})
    assert posted.status_code == 400 and posted.json["error"]["code"] == "nul_character"
    assert listed.status_code == 400


# -- Issue 9, item 3: each class of odd input, refused where it is read ---------------------

BEYOND_64_BITS = [str(2**63), str(2**64), "9" * 40]
UNICODE_DIGITS = ["²", "１２", "١٢"]
CALENDAR_EDGES = [
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
]


def english(client: FlaskClient, login_name: str) -> None:
    """Sign in and switch the pages to English (messages are checked in both languages)."""
    login(client, login_name)
    client.post("/locale", data={"locale": "en"})


@pytest.mark.parametrize("value", [*BEYOND_64_BITS, "0", *UNICODE_DIGITS])
def test_an_id_past_64_bits_zero_or_in_other_digits_in_a_path_is_not_found(
    client: FlaskClient, make_call: Callable[..., int], value: str
) -> None:
    make_call()
    login(client, "admin")
    for path in (
        f"/calls/{value}",
        f"/calls/{value}/recording",
        f"/api/calls/{value}",
        f"/admin/users/{value}",
        f"/callflow/queues/{value}",
    ):
        assert client.get(path).status_code == 404, path
    assert client.put(f"/api/calls/{value}", json={"notes": "x"}).status_code == 404
    assert client.post(f"/calls/{value}/card", data={"notes": "x"}).status_code == 404


@pytest.mark.parametrize("value", [*BEYOND_64_BITS, *UNICODE_DIGITS])
@pytest.mark.parametrize("name", ["page", "operator", "purpose", "tag", "per_page"])
def test_a_number_past_64_bits_or_in_other_digits_in_a_filter_is_a_clear_400(
    client: FlaskClient, make_call: Callable[..., int], name: str, value: str
) -> None:
    make_call()
    english(client, "admin")
    page = client.get("/calls", query_string={name: value})
    api = client.get("/api/calls", query_string={name: value})
    export = client.get("/api/export/calls.csv", query_string={name: value})
    assert page.status_code == 400 and "Expected" in page.get_data(as_text=True)
    for answer in (api, export):
        assert answer.status_code == 400
        assert answer.json["error"]["fields"][name][0].startswith("Expected")


@pytest.mark.parametrize("value", [*BEYOND_64_BITS, *UNICODE_DIGITS])
def test_other_pages_refuse_odd_numbers_with_a_400_too(client: FlaskClient, value: str) -> None:
    english(client, "admin")
    for path, args in (
        ("/calls/mine", {"page": value}),
        ("/admin/audit", {"page": value}),
        ("/admin/audit", {"call": value}),
        ("/admin/audit", {"user": value}),
        ("/callflow/versions", {"page": value}),
        ("/reports/queues", {"short": value}),
    ):
        response = client.get(path, query_string=args)
        assert response.status_code == 400, (path, args)
        assert "Expected" in response.get_data(as_text=True), (path, args)


@pytest.mark.parametrize("value", [*BEYOND_64_BITS, 0, -1, True])
def test_an_id_out_of_range_in_a_json_body_is_named_in_a_422(
    client: FlaskClient, make_call: Callable[..., int], value: object
) -> None:
    call_id = make_call()
    login(client, "admin")
    number = int(value) if isinstance(value, str) else value
    completed = client.put(
        f"/api/calls/{call_id}", json={"purpose_id": number, "tag_ids": [number]}
    )
    logged = client.post(
        "/api/calls",
        json={
            "direction": "inbound",
            "status": "missed",
            "src_number": "+79160000000",
            "started_at": "2026-03-02T10:00:00+03:00",
            "operator_id": number,
        },
    )
    assert completed.status_code == 422
    assert set(completed.json["error"]["fields"]) >= {"purpose_id", "tag_ids"}
    assert logged.status_code == 422 and "operator_id" in logged.json["error"]["fields"]


@pytest.mark.parametrize("value", CALENDAR_EDGES)
def test_a_date_at_the_calendar_edge_is_refused_naming_the_years_taken(
    client: FlaskClient, make_call: Callable[..., int], value: str
) -> None:
    call_id = make_call()
    english(client, "admin")
    for path in (
        "/calls",
        "/reports/queues",
        "/reports/operators",
        "/reports/categories",
        "/admin/audit",
    ):
        for name in ("from", "to"):
            response = client.get(path, query_string={name: value})
            assert response.status_code == 400, (path, name)
            assert "2000 to 2100" in response.get_data(as_text=True), (path, name)
    for path in ("/api/calls", "/api/export/calls.csv"):
        response = client.get(path, query_string={"from": value})
        assert response.status_code == 400
        assert "2000 to 2100" in response.json["error"]["fields"]["from"][0]
    logged = client.post(
        "/api/calls",
        json={
            "direction": "inbound",
            "status": "missed",
            "src_number": "+79160000000",
            "started_at": value,
        },
    )
    assert logged.status_code == 422
    assert "2000 to 2100" in logged.json["error"]["fields"]["started_at"][0]
    assert client.get(f"/api/calls/{call_id}").status_code == 200


def test_dates_at_the_calendar_edge_are_refused_in_russian_too(client: FlaskClient) -> None:
    login(client, "supervisor")  # the demo staff read Russian
    response = client.get("/reports/queues", query_string={"from": "9999-12-31"})
    assert response.status_code == 400
    assert "с 2000 по 2100 год" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"notes": ' + b"[" * 40 + b"]" * 40 + b"}",
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    ],
)
def test_a_deeply_nested_json_body_is_a_clear_400_not_a_crash(
    client: FlaskClient, make_call: Callable[..., int], body: bytes
) -> None:
    call_id = make_call()
    login(client, "admin")
    for method, path in (("POST", "/api/calls"), ("PUT", f"/api/calls/{call_id}")):
        response = client.open(path, method=method, data=body, content_type="application/json")
        assert response.status_code == 400, path
        assert response.json["error"]["code"] == "bad_request"


def test_json_sent_to_a_page_is_refused_with_415_not_read_as_a_form(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    english(client, "admin")
    for body in ([1, 2], True, {"name": ["x", {"y": 1}]}, {"notes": "x"}):
        for path in (f"/calls/{call_id}/card", "/admin/users/new", "/admin/dictionaries/tags"):
            response = client.post(path, json=body)
            assert response.status_code == 415, (path, body)
            assert "takes a form" in response.get_data(as_text=True)
    with sessions() as session:
        assert session.get(Call, call_id).completed_at is None


def test_a_report_or_export_longer_than_a_year_is_refused_and_the_form_says_so(
    client: FlaskClient,
) -> None:
    english(client, "admin")
    long_period = {"from": "2024-01-01", "to": "2026-01-01"}
    for path in ("/reports/queues", "/reports/operators", "/reports/categories"):
        refused = client.get(path, query_string=long_period)
        text = refused.get_data(as_text=True)
        assert refused.status_code == 400, path
        assert "Choose a period of at most 366 days." in text
        assert "A report covers at most 366 days." in text  # the form says it before
    export = client.get("/api/export/calls.csv", query_string=long_period)
    assert export.status_code == 400
    assert export.json["error"]["fields"]["to"] == ["Choose a period of at most 366 days."]
    assert (
        client.get(
            "/reports/queues", query_string={"from": "2025-01-01", "to": "2025-12-31"}
        ).status_code
        == 200
    )


def test_an_export_without_a_period_covers_the_last_366_days(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    recent = make_call(started_at=utcnow() - timedelta(days=300))
    old = make_call(started_at=utcnow() - timedelta(days=400))
    login(client, "admin")
    rows = client.get("/api/export/calls.csv").get_data(as_text=True).splitlines()[1:]
    exported = {int(row.split(";")[0]) for row in rows}
    assert recent in exported and old not in exported
    from_day = (utcnow() - timedelta(days=500)).date().isoformat()
    refused = client.get("/api/export/calls.csv", query_string={"from": from_day})
    assert refused.status_code == 400


@pytest.mark.parametrize("value", ["maybe", "2", "", "yes please"])
def test_an_unknown_yes_or_no_is_a_400_naming_the_argument(
    client: FlaskClient, make_call: Callable[..., int], value: str
) -> None:
    call_id = make_call()
    english(client, "supervisor")
    for path, name in (
        (f"/api/calls/{call_id}/recording", "download"),
        (f"/calls/{call_id}/recording", "download"),
        ("/api/dictionaries/tags", "all"),
    ):
        response = client.get(path, query_string={name: value})
        if value == "":  # no value means no
            assert response.status_code != 400, path
            continue
        assert response.status_code == 400, path
        assert name in response.get_data(as_text=True)


def test_a_method_an_address_does_not_take_is_a_405_with_allow_on_pages_too(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    call_id = make_call()
    login(client, "admin")
    for path, allowed in (
        ("/calls", {"GET"}),
        (f"/calls/{call_id}", {"GET"}),
        ("/logout", {"POST"}),
        ("/admin/users/new", {"GET", "POST"}),
        ("/api/calls", {"GET", "POST"}),
        ("/reports/queues", {"GET"}),
    ):
        response = client.delete(path)
        assert response.status_code == 405, path
        assert set(response.headers["Allow"].split(", ")) - {"HEAD", "OPTIONS"} == allowed


def test_a_statement_past_the_time_limit_answers_503_with_what_to_do(
    web_database_url: str, recordings_dir: Path
) -> None:
    app = create_app(
        make_settings(web_database_url, recordings_dir),
        test_config={"TESTING": True, "WTF_CSRF_ENABLED": False, "STATEMENT_TIMEOUT_MS": 200},
    )

    def slow() -> str:
        # Stands for a report or a list whose query runs past the limit.
        db.session.execute(text("SELECT pg_sleep(5)"))
        return "done"

    app.add_url_rule("/slow", "slow", slow)
    app.add_url_rule("/api/slow", "api_slow", slow)
    client = app.test_client()
    client.post("/locale", data={"locale": "en"})
    page, api = client.get("/slow"), client.get("/api/slow")
    assert page.status_code == 503 and "Choose a shorter period" in page.get_data(as_text=True)
    assert api.status_code == 503 and api.json["error"]["code"] == "timeout"
    assert client.get("/api/openapi.json").status_code == 200  # the pool is healthy after


@pytest.mark.parametrize("value", ["9999-12-31T23:59", "0001-01-01T00:00+14:00"])
def test_call_flow_dates_at_the_calendar_edge_are_refused_and_the_pages_still_open(
    client: FlaskClient, sessions: sessionmaker[Session], value: str
) -> None:
    with sessions() as session:
        schedule_id = session.scalar(select(Schedule.id).order_by(Schedule.id))
        did = session.scalar(select(Did.number).order_by(Did.id))
    english(client, "admin")
    hours = {
        "name": "Edge",
        "timezone": "Pacific/Kiritimati",
        "mon": "09:00-18:00",
        "closed_action": "hangup",
    }
    for extra in (
        {"override_state": "open", "override_until": value},
        {"holidays": f"{value[:10]} Edge"},
    ):
        saved = client.post(f"/callflow/hours/{schedule_id}", data={**hours, **extra})
        assert saved.status_code == 400 and "2000 to 2100" in saved.get_data(as_text=True)
        assert client.get(f"/callflow/hours/{schedule_id}").status_code == 200
    simulated = client.get(
        "/callflow/simulator",
        query_string={
            "did": did,
            "day": value[:10],
            "at": "23:59",
            "timezone": "Pacific/Kiritimati",
            "flow": "published",
        },
    )
    assert simulated.status_code == 400 and "2000 to 2100" in simulated.get_data(as_text=True)
