"""The wallboard and a supervisor's buttons, role checks, audit; /metrics' protection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry
from pbx.client import PbxClient
from pbx.pause import MemberState
from tests.web.conftest import login, user_id
from webadmin import create_app


class FakePbx(PbxClient):
    """Asterisk as the buttons reach it; what it was told."""

    told: list[tuple[str, str, bool | None, str]] = []

    def pause_operator(self, extension: str, paused: bool, reason: str = "") -> MemberState:
        self.told.append(("pause", extension, paused, reason))
        return MemberState(("reception",), paused, reason)

    def log_out_operator(self, extension: str) -> MemberState:
        self.told.append(("logout", extension, None, ""))
        return MemberState((), False)


@pytest.fixture
def pbx(monkeypatch: pytest.MonkeyPatch, app: Flask) -> FakePbx:
    fake = FakePbx(app.config["CALLCARDS_SETTINGS"])
    FakePbx.told = []
    monkeypatch.setitem(app.extensions, "pbx", fake)
    return fake


def test_the_wallboard_is_for_supervisors_and_admins(client: FlaskClient) -> None:
    login(client, "operator1")
    assert client.get("/live/wallboard").status_code == 403
    assert client.get("/live/figures").status_code == 403
    login(client, "supervisor")
    page = client.get("/live/wallboard")
    assert page.status_code == 200 and 'data-queue="reception"' in page.text
    figures = client.get("/live/figures").get_json()
    assert figures["total"]["offered"] == 0
    assert 'class="tv"' in client.get("/live/wallboard?tv=1").text


def test_a_supervisor_pauses_an_operator_and_the_audit_log_says_so(
    client: FlaskClient, pbx: FakePbx, sessions: sessionmaker[Session]
) -> None:
    operator1 = user_id(sessions, "operator1")
    login(client, "operator2")
    assert (
        client.post(f"/live/operators/{operator1}/pause", data={"reason": "lunch"}).status_code
        == 403
    )
    login(client, "supervisor")
    done = client.post(
        f"/live/operators/{operator1}/pause", data={"reason": "lunch"}, follow_redirects=True
    )
    assert "на паузе: Обед" in done.text
    assert FakePbx.told == [("pause", "101", True, "lunch")]
    client.post(f"/live/operators/{operator1}/ready")
    client.post(f"/live/operators/{operator1}/logout")
    assert [entry[0] for entry in FakePbx.told] == ["pause", "pause", "logout"]
    with sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == [
        "operator.supervisor_pause",
        "operator.supervisor_ready",
        "operator.supervisor_logout",
    ]
    login(client, "admin")
    audit = client.get("/admin/audit").text
    assert "пауза оператора супервизором" in audit
    assert "Ольга Операторова · Обед" in audit


def test_a_bad_act_or_an_operator_out_of_sight_changes_nothing(
    client: FlaskClient, pbx: FakePbx, sessions: sessionmaker[Session]
) -> None:
    login(client, "supervisor")
    operator1 = user_id(sessions, "operator1")
    admin = user_id(sessions, "admin")
    for path in (
        f"/live/operators/{operator1}/explode",
        f"/live/operators/{admin}/pause",
        "/live/operators/999999/pause",
    ):
        answer = client.post(path, data={"reason": "lunch"}, follow_redirects=True)
        assert "Нет такого оператора на вашем табло" in answer.text
    answer = client.post(
        f"/live/operators/{operator1}/pause", data={"reason": "nap"}, follow_redirects=True
    )
    assert "форма заполнена неверно" in answer.text
    assert FakePbx.told == []


def test_the_supervisor_buttons_need_the_csrf_token(
    csrf_app: Flask, sessions: sessionmaker[Session]
) -> None:
    client = csrf_app.test_client()
    page = client.get("/login")
    token = page.text.split('name="csrf-token" content="')[1].split('"')[0]
    client.post(
        "/login", data={"login": "supervisor", "password": "supervisor", "csrf_token": token}
    )
    refused = client.post(
        f"/live/operators/{user_id(sessions, 'operator1')}/pause", data={"reason": "lunch"}
    )
    assert refused.status_code == 400


def test_metrics_are_hidden_refused_or_shown(app: Flask) -> None:
    settings = app.config["CALLCARDS_SETTINGS"]
    assert app.test_client().get("/metrics").status_code == 404
    guarded = create_app(
        replace(settings, metrics_allow=("10.0.0.0/8",), metrics_token="s3cret"),
        test_config={"TESTING": True},
    )
    client = guarded.test_client()
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    shown = client.get("/metrics", headers={"Authorization": "Bearer s3cret"})
    assert shown.status_code == 200
    assert "callcards_site_live_connections" in shown.text
    assert 'callcards_site_requests_total{endpoint="metrics",status="403"}' in shown.text
    assert "callcards_site_request_seconds_bucket" in shown.text
    near = create_app(
        replace(settings, metrics_allow=("127.0.0.1/32",)), test_config={"TESTING": True}
    )
    assert near.test_client().get("/metrics").status_code == 200
