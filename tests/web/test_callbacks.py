"""The callback task list: who sees which task, taking one, handing it over, calling back
(refused clearly when it cannot work) and recording the outcome."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callbacks.sweep import sweep_locked
from models import CallbackAttempt, CallbackTask, Status
from pbx.ami import AmiError
from pbx.callout import CallOut, PhoneUnavailable
from pbx.client import PbxClient
from tests.web.conftest import login, user_id

NUMBER = "+79165550199"
JSON = {"Accept": "application/json"}


@pytest.fixture
def task_id(make_call: Callable[..., int], sessions: sessionmaker[Session]) -> int:
    """A caller who hung up while waiting in reception: their task, made by the sweep."""
    make_call(operator=None, status=Status.ABANDONED.value, src_number=NUMBER, wait_sec=40)
    sweep_locked(sessions)
    with sessions() as session:
        found = session.scalar(select(CallbackTask.id).where(CallbackTask.number == NUMBER))
        assert found is not None
        return found


def task(sessions: sessionmaker[Session], task_id: int) -> CallbackTask:
    with sessions() as session:
        found = session.get(CallbackTask, task_id)
        assert found is not None
        return found


class PhoneRings(PbxClient):
    """Asterisk as the test wants it: every click rings, and the calls are kept."""

    placed: list[CallOut] = []

    def call_out(self, call: CallOut) -> str:
        self.placed.append(call)
        return f"cc-out-test-{len(self.placed)}"


def test_operators_see_the_tasks_of_their_queues_in_the_nav_and_list(
    client: FlaskClient,
    task_id: int,
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
) -> None:
    make_call(operator=None, status="missed", queue="nowhere", src_number="74951110022")
    sweep_locked(sessions)
    login(client, "operator1")
    page = client.get("/callbacks").get_data(as_text=True)
    assert "Перезвоны" in page and NUMBER in page
    assert "74951110022" not in page  # a queue operator1 does not answer
    client.post("/locale", data={"locale": "en"})
    login(client, "admin")
    admin_page = client.get("/callbacks?order=oldest").get_data(as_text=True)
    assert "74951110022" in admin_page


def test_two_operators_take_one_task_and_the_second_is_told(
    app: Flask, task_id: int, sessions: sessionmaker[Session]
) -> None:
    first, second = app.test_client(), app.test_client()
    login(first, "operator1")
    login(second, "operator2")
    assert first.post(f"/callbacks/{task_id}/take", headers=JSON).status_code == 200
    refused = second.post(f"/callbacks/{task_id}/take", headers=JSON)
    assert refused.status_code == 409
    assert refused.get_json()["ok"] is False
    assert task(sessions, task_id).taken_by_id == user_id(sessions, "operator1")


def test_a_supervisor_hands_the_task_over(
    client: FlaskClient, task_id: int, sessions: sessionmaker[Session]
) -> None:
    login(client, "supervisor")
    operator2 = user_id(sessions, "operator2")
    page = client.get(f"/callbacks/{task_id}").get_data(as_text=True)
    assert "Иван Петров" in page
    client.post(f"/callbacks/{task_id}/assign", data={"operator_id": str(operator2)})
    assert task(sessions, task_id).taken_by_id == operator2
    bad = client.post(f"/callbacks/{task_id}/assign", data={"operator_id": "999999"}, headers=JSON)
    assert bad.status_code == 400
    login(client, "operator1")
    assert client.post(f"/callbacks/{task_id}/assign", data={"operator_id": ""}).status_code == 403


def test_click_to_call_without_asterisk_is_refused_clearly(
    client: FlaskClient, task_id: int, sessions: sessionmaker[Session]
) -> None:
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"})
    refused = client.post(f"/callbacks/{task_id}/call", headers=JSON)
    assert refused.status_code == 503
    assert "Asterisk" in refused.get_json()["message"]
    page = client.post(f"/callbacks/{task_id}/call", follow_redirects=True).get_data(as_text=True)
    assert "no AMI is set" in page
    assert task(sessions, task_id).attempts == 0


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (PhoneUnavailable("phone 101 not registered"), 409, "not registered"),
        (AmiError("AMI at 127.0.0.1:5038 is unreachable"), 503, "cannot be reached"),
    ],
)
def test_click_to_call_refused_when_the_phone_or_ami_fails(
    app: Flask,
    client: FlaskClient,
    task_id: int,
    monkeypatch: pytest.MonkeyPatch,
    error: AmiError,
    status: int,
    words: str,
) -> None:
    class Fails(PbxClient):
        def call_out(self, call: CallOut) -> str:
            raise error

    monkeypatch.setitem(app.extensions, "pbx", Fails(app.config["CALLCARDS_SETTINGS"]))
    login(client, "operator1")
    client.post("/locale", data={"locale": "en"})
    refused = client.post(f"/callbacks/{task_id}/call", headers=JSON)
    assert refused.status_code == status
    assert words in refused.get_json()["message"]


def test_a_number_outside_the_allowlist_is_not_dialled(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.extensions, "pbx", PhoneRings(app.config["CALLCARDS_SETTINGS"]))
    PhoneRings.placed = []
    premium = make_call(src_number="88091234567")
    login(client, "operator1")
    refused = client.post("/dial", data={"call_id": str(premium)}, headers=JSON)
    assert refused.status_code == 422
    assert PhoneRings.placed == []
    fine = make_call(src_number="84951234567")
    assert "Позвонить на 84951234567" in client.get(f"/calls/{fine}").get_data(as_text=True)
    assert client.post("/dial", data={"call_id": str(fine)}, headers=JSON).status_code == 200
    assert [c.number for c in PhoneRings.placed] == ["84951234567"]


def test_call_back_then_busy_plans_the_next_attempt_and_reached_closes(
    app: Flask,
    client: FlaskClient,
    task_id: int,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(app.extensions, "pbx", PhoneRings(app.config["CALLCARDS_SETTINGS"]))
    PhoneRings.placed = []
    login(client, "operator1")
    rang = client.post(f"/callbacks/{task_id}/call", headers=JSON)
    assert rang.status_code == 200 and rang.get_json()["linkedid"].startswith("cc-out-test")
    assert PhoneRings.placed[0].extension == "101"
    assert PhoneRings.placed[0].number == NUMBER
    client.post(f"/callbacks/{task_id}/outcome", data={"outcome": "busy"})
    after_busy = task(sessions, task_id)
    assert (after_busy.attempts, after_busy.closed_at, after_busy.taken_by_id) == (1, None, None)
    assert after_busy.next_attempt_at is not None
    bad = client.post(
        f"/callbacks/{task_id}/outcome", data={"outcome": "got_through"}, headers=JSON
    )
    assert bad.status_code == 400
    client.post(f"/callbacks/{task_id}/outcome", data={"outcome": "reached"})
    done = task(sessions, task_id)
    assert (done.attempts, done.outcome) == (2, "reached")
    with sessions() as session:
        attempts: list[Any] = list(
            session.scalars(
                select(CallbackAttempt.outcome).where(CallbackAttempt.task_id == task_id)
            )
        )
    assert attempts == ["busy", "reached"]
    page = client.get(f"/callbacks/{task_id}").get_data(as_text=True)
    assert "дозвонились" in page or "reached" in page


def test_the_recovery_report_counts_lost_callers_won_back_and_anonymous_apart(
    app: Flask,
    client: FlaskClient,
    task_id: int,
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_call(operator=None, status="missed", src_number="anonymous")
    make_call(operator=None, status="missed", src_number="74957770033")
    sweep_locked(sessions)
    monkeypatch.setitem(app.extensions, "pbx", PhoneRings(app.config["CALLCARDS_SETTINGS"]))
    login(client, "operator1")
    client.post(f"/callbacks/{task_id}/call")
    client.post(f"/callbacks/{task_id}/outcome", data={"outcome": "reached"})
    login(client, "supervisor")
    client.post("/locale", data={"locale": "en"})
    page = client.get("/reports/recovery").get_data(as_text=True)
    assert "Lost callers won back" in page and "Recovered within 1 h" in page
    text = client.get("/reports/recovery?format=csv").get_data(as_text=True).lstrip("\ufeff")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    header = lines[0]
    total = dict(zip(header, lines[-1], strict=True))
    assert total["Tasks made"] == "2" and total["Lost calls"] == "2"
    assert total["Recovered within 1 h"] == "1" and total["Reached by us"] == "1"
    assert total["Anonymous"] == "1" and total["Unreachable"] == "0"
    rows = [dict(zip(header, line, strict=True)) for line in lines[1:-1]]
    assert {row["Operator"] for row in rows} == {"Ольга Операторова", ""}
