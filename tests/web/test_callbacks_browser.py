"""The callbacks page in Debian's Chromium: an operator takes a task, clicks to call (their
phone rings: Asterisk is stood in for), and records the outcome; the list follows."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callbacks.sweep import sweep_locked
from models import CallbackTask, Status
from pbx.callout import CallOut
from pbx.client import PbxClient
from tests.web.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser]


class PhoneRings(PbxClient):
    """Every click rings the operator's phone (the sandbox test covers the real Originate)."""

    placed: list[CallOut] = []

    def call_out(self, call: CallOut) -> str:
        self.placed.append(call)
        return "cc-out-browser"


def test_an_operator_takes_a_task_calls_back_and_records_the_outcome(
    csrf_app: Flask,
    new_page: Callable[[], Any],
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        csrf_app.extensions, "pbx", PhoneRings(csrf_app.config["CALLCARDS_SETTINGS"])
    )
    PhoneRings.placed = []
    make_call(operator=None, status=Status.ABANDONED.value, src_number="79165550123", wait_sec=40)
    make_call(operator=None, status=Status.MISSED.value, src_number="79165550124")
    sweep_locked(sessions)
    page = new_page()
    sign_in(page, "operator1")
    page.click("nav.mainnav >> text=Перезвоны")
    assert page.locator("table.tasks tbody tr").count() == 2
    row = page.locator("tr", has_text="79165550123")
    row.locator("button", has_text="Взять").click()
    page.wait_for_selector(".flash", state="visible")
    assert "Задача ваша" in page.inner_text(".flashes")
    page.click("text=79165550123")
    assert "Ольга Операторова" in page.inner_text(".taken-by")
    page.click("button.primary >> text=Позвонить")
    assert "Звонит ваш телефон" in page.inner_text(".flashes")
    assert [call.number for call in PhoneRings.placed] == ["79165550123"]
    screenshot(page, "callbacks-task")
    page.select_option("#outcome", "reached")
    page.click("text=Сохранить итог")
    assert "задача закрыта" in page.inner_text(".flashes")
    assert "дозвонились" in page.inner_text(".task-outcome")
    page.click("text=← Перезвоны")
    assert page.locator("table.tasks tbody tr").count() == 1
    with sessions() as session:
        outcome = session.scalar(
            select(CallbackTask.outcome).where(CallbackTask.number == "79165550123")
        )
    assert outcome == "reached"
