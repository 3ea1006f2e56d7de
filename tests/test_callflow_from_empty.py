"""An admin builds the clinic's whole call flow in the web from an empty database (issue 4).

Starting from a migrated database with nothing but one administrator, every piece is made
through the staff site's forms, as a browser posts them: the operators with their phones'
extensions, the queues with their members, an uploaded voice prompt, the main menu, the
business hours, the DID and the default queue. One publish makes the first version and
applies the queues to the real sandbox Asterisk; a real call to the DID then hears the
uploaded prompt, presses 1 and is answered in the queue the admin chose, on a card that
says so.
"""

from __future__ import annotations

import asyncio
import io
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from models import Call, FlowVersion, User, migrate
from models.session import make_engine, make_session_factory, transaction
from pbx.apply import apply_queues
from tests.agi_process import AgiProcess
from tests.asterisk_driver import AsteriskDriver
from tests.conftest import ARTIFACTS, create_database, drop_database
from tests.sandbox_site import sandbox_settings, signed_in
from tests.web.conftest import write_tone

pytestmark = pytest.mark.asterisk

DID, CALLER = "74957770011", "79035550123"
WHOLE_DAY = "00:00-00:00"


@dataclass
class EmptyInstall:
    """A fresh install: its database, its site (signed in as the admin) and settings."""

    url: str
    sessions: sessionmaker[Session]
    site: FlaskClient
    settings: Settings


@pytest.fixture
def empty_install(
    asterisk_sandbox: SandboxInfo, engine: Engine, tmp_path: Path
) -> Iterator[EmptyInstall]:
    """A migrated, empty database with one admin, and the site on it applying to the sandbox.

    Uploaded prompts go where the sandbox Asterisk plays `callcards/<name>` from. Afterwards
    the sandbox runs the demo database's queues again, as the other tests expect.
    """
    name = f"callcards_empty_{os.getpid()}"
    url = create_database(name)
    migrate.upgrade(url)
    fresh = make_engine(url)
    sessions = make_session_factory(fresh)
    with transaction(sessions) as session:  # what `callcards user-add` does
        admin = User(login="boss", name="Главный администратор", role="admin")
        admin.set_password("first-admin-pass")
        session.add(admin)
    prompts = Path(asterisk_sandbox.root) / "usr/share/asterisk/sounds/callcards"
    settings = sandbox_settings(
        asterisk_sandbox,
        url,
        prompts_dir=prompts,
        recordings_dir=Path(asterisk_sandbox.recordings_dir),
    )
    site = signed_in(settings, "boss", "first-admin-pass")
    yield EmptyInstall(url, sessions, site, settings)
    shutil.rmtree(prompts, ignore_errors=True)
    with make_session_factory(engine)() as demo:
        assert apply_queues(demo, settings).ok
    fresh.dispose()
    drop_database(name)


@pytest.fixture
async def server_on_empty(
    empty_install: EmptyInstall, agi_server: AgiProcess, asterisk_sandbox: SandboxInfo
) -> AsyncIterator[AsteriskDriver]:
    """The sandbox's FastAGI port served from the new install's database, then given back."""
    agi_server.stop()
    ours = AgiProcess(
        empty_install.url,
        Path(asterisk_sandbox.recordings_dir),
        agi_server.port,
        ARTIFACTS / "callcards-agi-empty-install.log",
    )
    ours.start()
    try:
        async with AsteriskDriver.for_sandbox(asterisk_sandbox) as driver:
            await driver.set_global("CC_TEST_ANSWER_DELAY", "0")
            yield driver
    finally:
        ours.stop()
        agi_server.start()


def _ok(response: object, what: str) -> None:
    status = getattr(response, "status_code", None)
    assert status == 302, f"{what}: {status}\n{getattr(response, 'text', '')[:3000]}"


def _build_the_clinic(site: FlaskClient, sessions: sessionmaker[Session]) -> None:
    """Everything the demo clinic's call flow needs, made through the site's forms."""
    for login, name, extension in (
        ("olga", "Ольга Операторова", "101"),
        ("ivan", "Иван Петров", "102"),
    ):
        _ok(
            site.post(
                "/admin/users/new",
                data={
                    "login": login,
                    "name": name,
                    "role": "operator",
                    "extension": extension,
                    "phone_type": "webrtc",
                    "locale": "ru",
                    "active": "y",
                    "password": f"{login}-first-pass",
                },
            ),
            f"operator {login}",
        )
    with sessions() as session:
        operators = list(
            session.scalars(select(User).where(User.role == "operator").order_by(User.extension))
        )
    for queue, title, members in (
        ("reception", "Регистратура", operators),
        ("appointments", "Запись на приём", operators[:1]),
    ):
        form = {
            "name": queue,
            "title": title,
            "strategy": "rrmemory",
            "ring_timeout_sec": "15",
            "max_wait_sec": "120",
            "wrapup_sec": "0",
            "service_level_sec": "20",
            "retention_days": "",
            "active": "y",
            "when_empty": "hangup",
            "when_empty_message": "im-sorry",
            "when_timeout": "hangup",
            "when_timeout_message": "im-sorry",
        }
        for index, user in enumerate(operators):
            form[f"members-{index}-user_id"] = str(user.id)
            form[f"members-{index}-penalty"] = "0"
            if user in members:
                form[f"members-{index}-member"] = "y"
        _ok(site.post("/callflow/queues/new", data=form), f"queue {queue}")
    _ok(site.post("/callflow/queues/default", data={"default_queue": "reception"}), "default queue")
    tone = write_tone(Path("/tmp") / f"welcome-{os.getpid()}.wav", seconds=1.0, rate=16000)
    _ok(
        site.post(
            "/callflow/prompts",
            content_type="multipart/form-data",
            data={"audio": (io.BytesIO(tone.read_bytes()), "welcome.wav"), "name": "welcome"},
        ),
        "prompt upload",
    )
    tone.unlink()
    _ok(
        site.post(
            "/callflow/menus/new",
            data={
                "name": "main",
                "prompt": "callcards/welcome",
                "timeout_sec": "5",
                "retries": "2",
                "timeout_prompt": "",
                "invalid_prompt": "im-sorry",
                "default_action": "queue:reception",
                "default_message": "",
                "options-0-digit": "1",
                "options-0-action": "queue:appointments",
                "options-0-message": "",
                "options-0-label": "запись на приём",
                "options-1-digit": "2",
                "options-1-action": "queue:reception",
                "options-1-message": "",
                "options-1-label": "регистратура",
            },
        ),
        "menu main",
    )
    _ok(
        site.post(
            "/callflow/hours/new",
            data={
                "name": "clinic",
                "timezone": "Europe/Moscow",
                "holidays": "",
                "exceptions": "",
                "override_state": "",
                "override_until": "",
                "closed_action": "hangup",
                "closed_message": "vm-goodbye",
                **{day: WHOLE_DAY for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
            },
        ),
        "business hours",
    )
    _ok(
        site.post(
            "/callflow/dids/new",
            data={
                "number": f"+{DID}",
                "entry": "menu:main",
                "source": "Сайт клиники",
                "city": "Москва",
                "schedule": "clinic",
                "active": "y",
            },
        ),
        "DID",
    )


async def test_an_admin_builds_the_call_flow_from_nothing_and_a_real_call_follows_it(
    empty_install: EmptyInstall, server_on_empty: AsteriskDriver, asterisk_sandbox: SandboxInfo
) -> None:
    site, sessions = empty_install.site, empty_install.sessions
    _build_the_clinic(site, sessions)
    published = site.post(
        "/callflow/publish", data={"comment": "the clinic, first version"}, follow_redirects=True
    )
    assert published.status_code == 200
    assert "Asterisk accepted the queues and operators." in published.text
    with sessions() as session:
        versions = list(session.scalars(select(FlowVersion)))
        assert [version.comment for version in versions] == ["the clinic, first version"]
    assert "Local/101@" in await server_on_empty.command("queue show appointments")

    ami = server_on_empty
    full_log = Path(asterisk_sandbox.log_dir) / "full.log"
    log_start = full_log.stat().st_size
    call = await ami.call(DID, CALLER)
    await ami.wait_for_agi(call, "GET DATA")
    await asyncio.sleep(0.3)
    await ami.press(call, "1")
    await ami.wait_for_operator(call)
    await ami.hangup(call)
    card = None
    for _ in range(200):
        with sessions() as session:
            card = session.scalar(select(Call).where(Call.linkedid == call.linkedid))
            if card is not None and card.ended_at is not None:
                operator = session.get(User, card.operator_id) if card.operator_id else None
                break
        await asyncio.sleep(0.1)
    assert card is not None and card.ended_at is not None, "no closed card"
    assert (card.status, card.queue, card.ivr_path) == ("answered", "appointments", "main > 1")
    assert (card.did, card.did_source, card.did_city) == (DID, "Сайт клиники", "Москва")
    assert operator is not None and operator.login == "olga"
    with full_log.open("rb") as log:
        log.seek(log_start)
        played = log.read().decode(errors="replace")
    assert "Playing 'callcards/welcome." in played and "does not exist" not in played
