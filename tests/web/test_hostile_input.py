"""Hostile input on the site and the API: SQL-looking filters, forged CSRF tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Call
from tests.web.conftest import login

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
    client: FlaskClient, sessions: sessionmaker[Session], make_call: Callable[..., int],
    name: str, value: str,
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
    response = client.post("/login", data={"login": "admin", "password": "admin",
                                           "csrf_token": "forged.token.value"})
    assert response.status_code == 400
    with client.session_transaction() as session:
        assert "_user_id" not in session


def test_a_nul_character_anywhere_is_a_clear_400_not_a_database_error(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    posted = client.post("/api/calls", json={"direction": "inbound", "status": "abandoned",
                                             "started_at": "2026-11-20T10:00:00Z",
                                             "queue": "\x00"})
    listed = client.get("/calls", query_string={"q": "12\x00"})
    assert posted.status_code == 400 and posted.json["error"]["code"] == "nul_character"
    assert listed.status_code == 400
