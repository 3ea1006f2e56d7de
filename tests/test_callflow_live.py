"""The call flow edited in the web is what the next real call does (issue: live on the next call).

An admin changes the main menu on the site and publishes; a real call on the sandbox
Asterisk follows the new option, exactly as the route simulator said it would; a rollback
on the site brings the old path back for the call after.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from callcards.sandbox import SandboxInfo
from dialplan import FlowSettings, simulate
from models import Call, FlowVersion, IvrMenu, Queue, QueueMember, User
from models.flow import draft_document, latest_version
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver
from tests.queue_forms import queue_form as queue_form_fields
from tests.sandbox_site import sandbox_settings, signed_in

pytestmark = pytest.mark.asterisk

DID, CALLER = "74951234567", "79161230000"


@pytest.fixture
def admin_site(
    database_url: str, asterisk_sandbox: SandboxInfo, open_clinic: None
) -> Iterator[FlaskClient]:
    """The staff site on the test database, applying queues to the sandbox through AMI."""
    settings = sandbox_settings(
        asterisk_sandbox, database_url, recordings_dir=Path(asterisk_sandbox.recordings_dir)
    )
    yield signed_in(settings, locale=None)


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
    data = {
        "name": menu["name"],
        "prompt": menu["prompt"],
        "timeout_sec": str(menu["timeout_sec"]),
        "retries": str(menu["retries"]),
        "timeout_prompt": menu["timeout_prompt"] or "",
        "invalid_prompt": menu["invalid_prompt"] or "",
        "default_action": f"queue:{menu['default']['target']}",
        "default_message": "",
    }
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
    assert (
        (first.queue, first.ivr_path)
        == simulated_path(sessions, "1")
        == ("appointments", "main > 1")
    )

    edit = admin_site.post(f"/callflow/menus/{menu_id}", data=menu_form(main, "reception"))
    assert edit.status_code == 302, edit.text[:2000]
    published = admin_site.post(
        "/callflow/publish", data={"comment": "key 1 to reception"}, follow_redirects=True
    )
    assert published.status_code == 200
    changed = await call_pressing(ami, sessions, "1")
    assert (changed.queue, changed.ivr_path) == simulated_path(sessions, "1")
    assert changed.queue == "reception"

    rollback = admin_site.post(
        f"/callflow/versions/{before.id}/rollback", data={"version": str(before.id)}
    )
    assert rollback.status_code == 302
    restored = await call_pressing(ami, sessions, "1")
    assert (
        (restored.queue, restored.ivr_path)
        == simulated_path(sessions, "1")
        == ("appointments", "main > 1")
    )
    with sessions() as session:
        newest = session.scalar(select(FlowVersion).order_by(FlowVersion.id.desc()).limit(1))
        assert newest is not None and newest.comment == f"rollback to {before.id}"


def queue_form(
    sessions: sessionmaker[Session], queue_name: str, drop: str
) -> tuple[int, dict[str, str]]:
    """The queue's edit form as the admin posts it, with operator `drop` (a login) unticked."""
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == queue_name))
        assert queue is not None
        members = {
            m.user_id
            for m in session.scalars(select(QueueMember).where(QueueMember.queue_id == queue.id))
        }
        phones = session.scalars(
            select(User)
            .where(User.active.is_(True), User.extension.is_not(None))
            .order_by(User.extension)
        ).all()
        data = queue_form_fields(
            queue, when_empty_message="im-sorry", when_timeout_message="im-sorry"
        )
        for index, user in enumerate(phones):
            data[f"members-{index}-user_id"] = str(user.id)
            data[f"members-{index}-penalty"] = "0"
            if user.id in members and user.login != drop:
                data[f"members-{index}-member"] = "y"
        return queue.id, data


async def test_a_rollback_restores_an_operator_removed_from_a_queue_in_asterisk(
    admin_site: FlaskClient, ami: AsteriskDriver, sessions: sessionmaker[Session]
) -> None:
    admin_site.post("/locale", data={"locale": "en"})
    with sessions() as session:
        before = latest_version(session)
        assert before is not None
    shown = await ami.command("queue show reception")
    assert "Local/101@" in shown and "Local/102@" in shown

    queue_id, form = queue_form(sessions, "reception", drop="operator2")
    assert admin_site.post(f"/callflow/queues/{queue_id}", data=form).status_code == 302
    published = admin_site.post(
        "/callflow/publish", data={"comment": "102 off reception"}, follow_redirects=True
    )
    assert "Asterisk accepted the queues and operators." in published.text
    shown = await ami.command("queue show reception")
    assert "Local/101@" in shown and "Local/102@" not in shown

    rolled = admin_site.post(
        f"/callflow/versions/{before.id}/rollback",
        data={"version": str(before.id)},
        follow_redirects=True,
    )
    assert "Rolled back" in rolled.text
    assert "Asterisk accepted the queues and operators." in rolled.text
    shown = await ami.command("queue show reception")
    assert "Local/101@" in shown and "Local/102@" in shown
