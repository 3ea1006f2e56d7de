"""The operator's break switch on the workspace when Asterisk cannot be reached.

(With the real Asterisk: tests/test_operator_pause_asterisk.py.)
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry
from tests.web.conftest import login


def _breaks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count(AuditEntry.id))
                              .where(AuditEntry.action.like("operator.%"))) or 0


def test_without_asterisk_the_workspace_says_the_state_is_unknown_and_changes_nothing(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    login(client, "operator1")
    page = client.get("/")
    assert page.status_code == 200
    assert "Ваше состояние в очередях неизвестно" in page.text
    assert "Уйти на перерыв" not in page.text  # no switch that would not work

    tried = client.post("/workspace/status", data={"paused": "1", "reason": "lunch"},
                        follow_redirects=True)
    assert "Asterisk не принял изменение" in tried.text
    assert _breaks(sessions) == 0


def test_a_malformed_break_form_is_refused_with_words(
        client: FlaskClient, sessions: sessionmaker[Session]) -> None:
    login(client, "operator1")
    for data in ({"paused": "maybe", "reason": "lunch"}, {"paused": "1", "reason": "nap"}):
        refused = client.post("/workspace/status", data=data, follow_redirects=True)
        assert refused.status_code == 200
        assert "Состояние не изменено: форма заполнена неверно." in refused.text
    assert _breaks(sessions) == 0


def test_the_break_switch_needs_the_csrf_token(csrf_app) -> None:  # type: ignore[no-untyped-def]
    client = csrf_app.test_client()
    page = client.get("/login")
    token = page.text.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    assert client.post("/login", data={"login": "operator1", "password": "operator1",
                                       "csrf_token": token}).status_code == 302
    refused = client.post("/workspace/status", data={"paused": "1", "reason": "lunch"})
    assert refused.status_code == 400
