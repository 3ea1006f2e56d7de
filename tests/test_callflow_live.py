"""The call flow edited in the web is what the next real call does (issue: live on the next call).

An admin changes the main menu on the site and publishes; a real call on the sandbox
Asterisk follows the new option, exactly as the route simulator said it would; a rollback
on the site brings the old path back for the call after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import load_settings
from callcards.sandbox import SandboxInfo
from callcards.sandbox.render import TEST_MEMBER_INTERFACE
from dialplan import FlowSettings, simulate
from models import Call, FlowVersion, IvrMenu
from models.flow import draft_document, latest_version
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver
from webadmin import create_app

pytestmark = pytest.mark.asterisk

DID, CALLER = "74951234567", "79161230000"


@pytest.fixture
def admin_site(
    database_url: str, asterisk_sandbox: SandboxInfo, open_clinic: None
) -> Iterator[FlaskClient]:
    """The staff site on the test database, applying queues to the sandbox through AMI."""
    settings = replace(
        load_settings({"DATABASE_URL": database_url,
                       "RECORDINGS_DIR": str(asterisk_sandbox.recordings_dir)}),
        asterisk_etc_dir=Path(asterisk_sandbox.etc_dir),
        member_interface=TEST_MEMBER_INTERFACE,
        ami_host=asterisk_sandbox.ami_host, ami_port=int(asterisk_sandbox.ami_port),
        ami_user=asterisk_sandbox.ami_user, ami_secret=asterisk_sandbox.ami_secret,
    )
    app = create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    client = app.test_client()
    response = client.post("/login", data={"login": "admin", "password": "admin"})
    assert response.status_code == 302
    yield client


@pytest.fixture
async def ami(
    asterisk_sandbox: SandboxInfo, agi_server: AgiProcess
) -> AsyncIterator[AsteriskDriver]:
    """An AMI session on the sandbox with our FastAGI server up and operators answering."""
    agi_server.start()
    async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
        await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
        yield driver


def menu_form(menu: dict, option_1: str) -> dict[str, str]:
    """The main menu's edit form as the admin posts it, with option 1 sent to `option_1`."""
    data = {"name": menu["name"], "prompt": menu["prompt"], "timeout_sec": str(menu["timeout_sec"]),
            "retries": str(menu["retries"]), "timeout_prompt": menu["timeout_prompt"] or "",
            "invalid_prompt": menu["invalid_prompt"] or "",
            "default_action": f"queue:{menu['default']['target']}", "default_message": ""}
    for index, option in enumerate(menu["options"]):
        target = option_1 if option["digit"] == "1" else option["action"]["target"]
        data[f"options-{index}-digit"] = option["digit"]
        data[f"options-{index}-action"] = f"queue:{target}"
        data[f"options-{index}-message"] = ""
        data[f"options-{index}-label"] = option["action"].get("label") or ""
    return data


async def call_pressing(ami: AsteriskDriver, sessions: sessionmaker[Session], keys: str) -> Call:
    """A real call that presses `keys` at the menu and hangs up once an operator answers."""
    call = await ami.call(DID, CALLER)
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)
    await ami.press(call, keys)
    await ami.wait_for_operator(call)
    await ami.hangup(call)
    for _ in range(200):
        with sessions() as session:
            card = session.scalar(select(Call).where(Call.linkedid == call.linkedid))
            if card is not None and card.ended_at is not None:
                return card
        await asyncio.sleep(0.1)
    raise AssertionError("no closed card")


def simulated_path(sessions: sessionmaker[Session], keys: str) -> tuple[str | None, str]:
    """What the route simulator says a call pressing `keys` now does: (queue, IVR path)."""
    with sessions() as session:
        version = latest_version(session)
        assert version is not None
        settings = FlowSettings.from_document(version.document)
    run = simulate(settings, DID, CALLER, datetime.now(UTC), [keys])
    return run.decision.queue, " > ".join(run.ivr_path)


async def test_a_menu_changed_on_the_site_is_what_the_next_real_call_does_and_rollback_undoes_it(
    admin_site: FlaskClient, ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        before = latest_version(session)
        assert before is not None
        main = next(m for m in draft_document(session)["menus"] if m["name"] == "main")
        menu_id = session.scalar(select(IvrMenu.id).where(IvrMenu.name == "main"))
    first = await call_pressing(ami, sessions, "1")
    assert (first.queue, first.ivr_path) == simulated_path(sessions, "1") == (
        "appointments", "main > 1")

    edit = admin_site.post(f"/callflow/menus/{menu_id}", data=menu_form(main, "reception"))
    assert edit.status_code == 302, edit.text[:2000]
    published = admin_site.post("/callflow/publish", data={"comment": "key 1 to reception"},
                                follow_redirects=True)
    assert published.status_code == 200
    changed = await call_pressing(ami, sessions, "1")
    assert (changed.queue, changed.ivr_path) == simulated_path(sessions, "1")
    assert changed.queue == "reception"

    rollback = admin_site.post(f"/callflow/versions/{before.id}/rollback",
                               data={"version": str(before.id)})
    assert rollback.status_code == 302
    restored = await call_pressing(ami, sessions, "1")
    assert (restored.queue, restored.ivr_path) == simulated_path(sessions, "1") == (
        "appointments", "main > 1")
    with sessions() as session:
        newest = session.scalar(select(FlowVersion).order_by(FlowVersion.id.desc()).limit(1))
        assert newest is not None and newest.comment == f"rollback to {before.id}"
