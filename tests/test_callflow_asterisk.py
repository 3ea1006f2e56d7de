"""An admin's queue change, published on the site, reaches the real Asterisk 22 (the sandbox).

The site runs on the sandbox session's database with pbx.apply pointed at the sandbox's
config folder and AMI; the page must say that Asterisk took the change, and `queue show`
must agree. Queues and members are put back (and applied) afterwards for the other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import Settings
from callcards.sandbox import SandboxInfo
from models import Queue, QueueMember, User
from models.flow import publish
from pbx.ami import AmiClient
from pbx.apply import apply_queues
from tests.sandbox_site import sandbox_settings, signed_in

pytestmark = pytest.mark.asterisk


@pytest.fixture(scope="module")
def site_settings(
    asterisk_sandbox: SandboxInfo, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The site's settings as on a server next to this Asterisk."""
    folder: Path = tmp_path_factory.mktemp("callflow-site")
    return sandbox_settings(
        asterisk_sandbox,
        database_url,
        secret_key="callflow-asterisk-test",
        recordings_dir=folder / "recordings",
        prompts_dir=folder / "prompts",
    )


@pytest.fixture
def admin(site_settings: Settings) -> FlaskClient:
    """The demo administrator signed in on the site, in English."""
    return signed_in(site_settings)


@pytest.fixture
def queues_back(sessions: sessionmaker[Session], site_settings: Settings) -> Iterator[None]:
    """Members and queue settings as they were, applied to Asterisk again."""
    with sessions() as session:
        members = [(m.user_id, m.queue_id, m.penalty) for m in session.scalars(select(QueueMember))]
        levels = {q.id: q.service_level_sec for q in session.scalars(select(Queue))}
    yield
    with sessions.begin() as session:
        session.execute(delete(QueueMember))
        session.add_all(
            QueueMember(user_id=user_id, queue_id=queue_id, penalty=penalty)
            for user_id, queue_id, penalty in members
        )
        for queue_id, level in levels.items():
            session.execute(
                update(Queue).where(Queue.id == queue_id).values(service_level_sec=level)
            )
        publish(session, user_id=None, comment="test: callflow, queues back")
    with sessions() as session:
        result = apply_queues(session, site_settings)
    assert result.ok, result.error


def test_a_penalty_published_on_the_site_is_what_asterisk_runs(
    admin: FlaskClient, sessions: sessionmaker[Session], site_settings: Settings, queues_back: None
) -> None:
    with sessions() as session:
        queue = session.scalars(select(Queue).where(Queue.name == "appointments")).one()
        phones = list(
            session.scalars(
                select(User).where(User.extension.is_not(None)).order_by(User.extension)
            )
        )
        members = {
            m.user_id
            for m in session.scalars(select(QueueMember).where(QueueMember.queue_id == queue.id))
        }
        form = {
            "name": queue.name,
            "title": queue.title,
            "strategy": queue.strategy,
            "ring_timeout_sec": str(queue.ring_timeout_sec),
            "max_wait_sec": str(queue.max_wait_sec),
            "wrapup_sec": str(queue.wrapup_sec),
            "service_level_sec": "35",
            "active": "y",
        }
    for index, user in enumerate(phones):
        form[f"members-{index}-user_id"] = str(user.id)
        form[f"members-{index}-penalty"] = "4" if user.login == "operator2" else "0"
        if user.id in members:
            form[f"members-{index}-member"] = "y"
    assert admin.post(f"/callflow/queues/{queue.id}", data=form).status_code == 302

    published = admin.post(
        "/callflow/publish", data={"comment": "operator2 second"}, follow_redirects=True
    )

    assert "Asterisk accepted the queues and operators." in published.text
    with AmiClient.from_settings(site_settings) as ami:
        shown = ami.command("queue show appointments")
    assert "Иван Петров (Local/102@cc-test-operators/n) with penalty 4" in shown
    assert "within 35s" in shown
