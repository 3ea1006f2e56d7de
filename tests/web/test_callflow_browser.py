"""An admin re-routes key 1 of the main menu in Chromium, publishes, and the simulator agrees.

Same browser as tests/web/test_browser.py (Debian's Chromium through Playwright).
Screenshots of the call-flow pages go to artifacts/screenshots/ (and docs/screenshots/
with CALLCARDS_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from models.flow import latest_version
from pbx.apply import ApplyResult
from tests.web.conftest import asterisk_answers, console_errors, screenshot, visit

pytestmark = [pytest.mark.browser]


@pytest.fixture
def page(new_page: Callable[[], Any]) -> Any:
    """A Chromium page on the site (the shared browser fixtures of tests/web/conftest.py)."""
    return new_page()


@pytest.fixture
def asterisk_accepts(monkeypatch: pytest.MonkeyPatch, csrf_app: Flask) -> list[Session]:
    """The queues' apply answers as a healthy Asterisk would (not what this test is about)."""
    return asterisk_answers(monkeypatch, csrf_app, ApplyResult(ok=True, changed=True))


def test_admin_sends_key_1_elsewhere_publishes_and_the_simulator_follows(
    page: Any, sessions: sessionmaker[Session], asterisk_accepts: list[Session]
) -> None:
    errors = console_errors(page)
    visit(page, "/login")
    page.fill("#login", "admin")
    page.fill("#password", "admin")
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)

    visit(page, "/callflow/menus")
    assert page.inner_text("h1") == "Голосовые меню"
    screenshot(page, "callflow-menus")
    page.click("#menu-main a")
    page.wait_for_selector("#menu-form")
    assert page.input_value("#options-0-digit") == "1"
    assert page.input_value("#options-0-action") == "queue:appointments"
    page.select_option("#options-0-action", "queue:reception")
    page.fill("#options-0-label", "Регистратура")
    screenshot(page, "callflow-menu-editor")
    page.click("#save-menu")
    page.wait_for_url(lambda url: url.endswith("/callflow/menus"))

    visit(page, "/callflow/")
    assert page.inner_text("h1").startswith("Схема звонков")
    assert "reception" in page.inner_text("table.changes")
    page.fill("#comment", "Клавиша 1 — в регистратуру")
    screenshot(page, "callflow-overview")
    page.click("#publish")
    page.wait_for_url(lambda url: "/callflow/versions/" in url)
    assert "Asterisk" in page.inner_text(".flashes")
    assert len(asterisk_accepts) == 1
    with sessions() as session:
        version = latest_version(session)
        assert version is not None and version.comment == "Клавиша 1 — в регистратуру"
        main = next(m for m in version.document["menus"] if m["name"] == "main")
        assert main["options"][0]["action"]["target"] == "reception"

    visit(page, "/callflow/simulator")
    assert page.inner_text("h1") == "Симулятор маршрута"
    page.fill("#did", "74951234567")
    page.fill("#day", "2026-03-02")
    page.fill("#at", "10:00")
    page.fill("#keys", "1")
    page.select_option("#flow", "published")
    page.click("#simulate")
    page.wait_for_selector("#decision-queue")
    assert page.inner_text("#decision-queue") == "reception"
    assert "Регистратура" in page.inner_text("#simulation")
    screenshot(page, "callflow-simulator")

    visit(page, "/callflow/versions")
    assert page.inner_text("h1") == "Опубликованные версии"
    assert "Клавиша 1" in page.inner_text("#versions")
    screenshot(page, "callflow-versions")
    assert errors == []
