"""An admin re-routes key 1 of the main menu in Chromium, publishes, and the simulator agrees.

Same browser as tests/web/test_browser.py (Debian's Chromium through Playwright).
Screenshots of the call-flow pages go to artifacts/screenshots/ and docs/screenshots/.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import make_server

from models.flow import latest_version
from pbx.apply import ApplyResult
from webadmin.callflow import apply as callflow_apply

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts" / "screenshots"
DOCS = REPO / "docs" / "screenshots"

pytestmark = [pytest.mark.browser]

# scripts/test.sh installs Debian's chromium: a missing browser is a failure, never a skip.
assert CHROMIUM.exists(), "Chromium is missing: run scripts/test.sh (apt-get install -y chromium)"

from playwright import sync_api  # noqa: E402 (after the check that explains a missing browser)


@pytest.fixture(scope="module")
def live_url(csrf_app: Flask) -> Iterator[str]:
    """The site (CSRF on, as in production) served on a free local port."""
    server = make_server("127.0.0.1", 0, csrf_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def page(live_url: str) -> Iterator[Any]:
    """A Chromium page on the site, as in test_browser.py."""
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        context = chromium.new_context(base_url=live_url, viewport={"width": 1366, "height": 820},
                                       locale="ru-RU")
        yield context.new_page()
        context.close()
        chromium.close()


def screenshot(page: Any, name: str) -> None:
    """Keep a screenshot for the README (docs/) and for the test run (artifacts/)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    DOCS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    shutil.copyfile(target, DOCS / target.name)


@pytest.fixture
def asterisk_accepts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """pbx.apply answers as a healthy Asterisk would (Asterisk is not what this test is about)."""
    calls: list[Any] = []

    def apply_queues(session: Any, settings: Any) -> ApplyResult:
        calls.append(settings)
        return ApplyResult(ok=True, changed=True)

    monkeypatch.setattr(callflow_apply, "pbx_apply", lambda: apply_queues)
    return calls


def test_admin_sends_key_1_elsewhere_publishes_and_the_simulator_follows(
        page: Any, sessions: sessionmaker[Session], asterisk_accepts: list[Any]) -> None:
    page.goto("/login")
    page.fill("#login", "admin")
    page.fill("#password", "admin")
    page.click("button.primary")
    page.wait_for_url(lambda url: "/login" not in url)

    page.goto("/callflow/menus")
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

    page.goto("/callflow/")
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

    page.goto("/callflow/simulator")
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

    page.goto("/callflow/versions")
    assert "Клавиша 1" in page.inner_text("#versions")
    screenshot(page, "callflow-versions")

