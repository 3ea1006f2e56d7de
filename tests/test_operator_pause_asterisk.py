"""An operator steps away from the queues on the workspace, and comes back (real Asterisk).

The workspace reads the operator's state from app_queue and changes it with AMI QueuePause:
what the page says is what `queue show` and the next queue call see.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from callcards.sandbox import SandboxInfo
from models import AuditEntry, Queue
from models.session import make_session_factory
from pbx.ami import AmiClient
from pbx.pause import member_state, set_paused
from tests.sandbox_site import sandbox_settings, signed_in

pytestmark = pytest.mark.asterisk

INTERFACE = "Local/101@cc-test-operators/n"  # operator1's phone as the sandbox's queues know it


@pytest.fixture
def ami(asterisk_sandbox: SandboxInfo) -> Iterator[AmiClient]:
    with AmiClient(
        asterisk_sandbox.ami_host,
        int(asterisk_sandbox.ami_port),
        asterisk_sandbox.ami_user,
        asterisk_sandbox.ami_secret,
    ) as client:
        yield client
        set_paused(client, INTERFACE, False)


@pytest.fixture
def operator_site(database_url: str, asterisk_sandbox: SandboxInfo, ami: AmiClient) -> FlaskClient:
    """operator1 (extension 101) signed in to the site next to the sandbox, in Russian."""
    return signed_in(
        sandbox_settings(asterisk_sandbox, database_url), "operator1", "operator1", locale="ru"
    )


def test_an_operator_takes_a_lunch_break_and_comes_back(
    operator_site: FlaskClient, ami: AmiClient, engine: Engine
) -> None:
    before = member_state(ami, INTERFACE)
    assert before.queues and not before.paused

    page = operator_site.get("/")
    assert "Готов к звонкам" in page.text
    # The page names the queues by their titles, as the call flow gives them.
    with make_session_factory(engine)() as session:
        titles = {name: title for name, title in session.execute(select(Queue.name, Queue.title))}
    assert all(titles[queue] in page.text for queue in before.queues)

    done = operator_site.post(
        "/workspace/status", data={"paused": "1", "reason": "lunch"}, follow_redirects=True
    )
    assert "Вы на перерыве" in done.text and "Обед" in done.text
    paused = member_state(ami, INTERFACE)
    assert (paused.paused, paused.reason, paused.queues) == (True, "lunch", before.queues)
    assert paused.since is not None
    shown = ami.command("queue show " + before.queues[0])
    line = next(
        line for line in shown.splitlines() if "cc-test-operators" in line and "101" in line
    )
    assert "paused:lunch" in line.replace(" ", "").lower()

    back = operator_site.post(
        "/workspace/status", data={"paused": "0", "reason": "break"}, follow_redirects=True
    )
    assert "Готов к звонкам" in back.text
    assert not member_state(ami, INTERFACE).paused

    with make_session_factory(engine)() as session:
        actions = [
            (entry.action, entry.detail.get("reason"))
            for entry in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("operator.%"))
                .order_by(AuditEntry.id)
            )
        ]
    assert actions[-2:] == [("operator.pause", "lunch"), ("operator.ready", "")]


def test_a_supervisor_sees_who_is_on_a_break_now(
    database_url: str, asterisk_sandbox: SandboxInfo, ami: AmiClient
) -> None:
    set_paused(ami, INTERFACE, True, "training")
    supervisor = signed_in(
        sandbox_settings(asterisk_sandbox, database_url), "supervisor", "supervisor", locale="ru"
    )
    page = supervisor.get("/reports/now").text
    row = page.split('data-extension="101"')[1].split("</tr>")[0]
    assert "Вы на перерыве" not in row and "На перерыве: Обучение" in row
    other = page.split('data-extension="102"')[1].split("</tr>")[0]
    assert "Готов к звонкам" in other
