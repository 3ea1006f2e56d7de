"""The operator's break switch and "Operators now" when Asterisk cannot be reached.

(With the real Asterisk: tests/test_operator_pause_asterisk.py.)
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, User
from models.session import transaction
from pbx.client import PbxClient
from tests.web.conftest import login


@pytest.fixture
def ami_down(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The site has AMI set up, at a local port where nothing listens (Asterisk is down)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = replace(app.config["CALLCARDS_SETTINGS"], ami_secret="secret", ami_port=port)
    monkeypatch.setitem(app.extensions, "pbx", PbxClient(settings))
    yield


def _breaks(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return (
            session.scalar(
                select(func.count(AuditEntry.id)).where(AuditEntry.action.like("operator.%"))
            )
            or 0
        )


def test_without_asterisk_the_workspace_says_the_state_is_unknown_and_changes_nothing(
    client: FlaskClient, sessions: sessionmaker[Session], ami_down: None
) -> None:
    login(client, "operator1")
    page = client.get("/")
    assert page.status_code == 200
    assert "Ваше состояние в очередях неизвестно" in page.text
    assert "Уйти на перерыв" not in page.text  # no switch that would not work

    tried = client.post(
        "/workspace/status", data={"paused": "1", "reason": "lunch"}, follow_redirects=True
    )
    assert "Asterisk не принял изменение" in tried.text
    assert _breaks(sessions) == 0


def test_a_malformed_break_form_is_refused_with_words(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
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
    assert (
        client.post(
            "/login", data={"login": "operator1", "password": "operator1", "csrf_token": token}
        ).status_code
        == 302
    )
    refused = client.post("/workspace/status", data={"paused": "1", "reason": "lunch"})
    assert refused.status_code == 400


def test_operators_now_without_asterisk_lists_the_operators_in_an_unknown_state(
    client: FlaskClient, ami_down: None
) -> None:
    login(client, "supervisor")
    page = client.get("/reports/now")
    assert page.status_code == 200
    assert "Операторы сейчас" in page.text
    assert "Состояние операторов неизвестно: Asterisk не ответил." in page.text
    assert 'data-extension="101"' in page.text and 'data-extension="102"' in page.text


def test_a_site_without_ami_says_so_and_offers_no_break_switch(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    # The test site has no CALLCARDS_AMI_SECRET: the factory gave it no pbx.
    login(client, "supervisor")
    now = client.get("/reports/now").text
    assert "связь этого сайта с Asterisk (AMI) не настроена" in now
    assert 'data-extension="101"' in now
    login(client, "operator1")
    workspace = client.get("/").text
    assert "Уйти на перерыв" not in workspace
    tried = client.post(
        "/workspace/status", data={"paused": "1", "reason": "lunch"}, follow_redirects=True
    )
    assert "подключение к Asterisk не настроено" in tried.text
    assert _breaks(sessions) == 0


def test_a_supervisor_sees_only_the_operators_of_the_queues_they_oversee(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        supervisor = session.scalar(select(User).where(User.login == "supervisor"))
        operator2 = session.scalar(select(User).where(User.login == "operator2"))
        assert supervisor is not None and operator2 is not None
        overseen = {queue.id for queue in supervisor.supervised_queues}
        operator2.memberships = [
            membership
            for membership in operator2.memberships
            if membership.queue_id not in overseen
        ]
    login(client, "supervisor")
    page = client.get("/reports/now").text
    assert 'data-extension="101"' in page and 'data-extension="102"' not in page
    login(client, "admin")
    assert 'data-extension="102"' in client.get("/reports/now").text
