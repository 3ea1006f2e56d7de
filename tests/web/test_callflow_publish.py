"""Publishing: refused while the draft would break calls, a version per publish, diff, rollback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, QueueMember, User
from models.flow import draft_document, latest_version, replace_document
from models.routing import Did, FlowVersion, IvrMenu, Queue, Schedule
from models.session import transaction
from pbx.apply import ApplyResult
from pbx.client import PbxClient
from tests.web.conftest import asterisk_answers, login


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as the demo administrator, in English."""
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    return client


@pytest.fixture
def asterisk_says(
    monkeypatch: pytest.MonkeyPatch, app: Flask
) -> Callable[[ApplyResult], list[Session]]:
    """Stand in for the queues' apply (Asterisk is not what these tests are about)."""

    def answer(result: ApplyResult) -> list[Session]:
        return asterisk_answers(monkeypatch, app, result)

    return answer


def _version_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(FlowVersion)) or 0)


def _set_option_one(sessions: sessionmaker[Session], queue: str) -> None:
    with transaction(sessions) as session:
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == "main"))
        assert menu is not None
        menu.options = [
            {"digit": "1", "action": {"kind": "queue", "target": queue}},
            *menu.options[1:],
        ]


def _change_row(page: str, field: str) -> str:
    """The row of the changes table for one field."""
    table = page.split('<table class="changes">', 1)[1].split("</table>", 1)[0]
    return table.split(f'<td class="nowrap">{field}</td>', 1)[1].split("</tr>", 1)[0]


def test_publish_is_refused_with_the_problems_linked_to_their_forms(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        did = session.scalar(select(Did))
        assert did is not None
        did.entry = {"kind": "menu", "target": "ghost"}
        did_id = did.id
    before = _version_count(sessions)
    response = admin.post("/callflow/publish", data={"comment": "try"})
    assert response.status_code == 400
    assert "Not published: 1 problem would break calls." in response.text
    assert (
        f'<a href="/callflow/dids/{did_id}">DID 74951234567, entry</a>: menu “ghost” does not exist'
    ) in response.text
    assert _version_count(sessions) == before


def test_publish_needs_a_comment(admin: FlaskClient, sessions: sessionmaker[Session]) -> None:
    before = _version_count(sessions)
    response = admin.post("/callflow/publish", data={"comment": " "})
    assert response.status_code == 400
    assert "Say in a few words what changed." in response.text
    assert _version_count(sessions) == before


def test_publish_makes_a_version_of_the_draft_and_applies_the_queues(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    applied = asterisk_says(ApplyResult(ok=True, changed=True, messages=["reloaded app_queue"]))
    _set_option_one(sessions, "reception")
    response = admin.post("/callflow/publish", data={"comment": "key 1 to reception"})
    assert response.status_code == 302
    with sessions() as session:
        version = latest_version(session)
        assert version is not None
        assert version.document == draft_document(session)
        assert version.comment == "key 1 to reception"
        author = session.get(User, version.created_by_id)
        assert author is not None and author.login == "admin"
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "callflow.publish"))
        assert entry is not None and entry.detail["version"] == version.id
        assert entry.detail["apply"]["ok"] is True
    assert len(applied) == 1
    page = admin.get(response.headers["Location"]).text
    assert "Asterisk accepted the queues and operators." in page
    assert "reloaded app_queue" in page


def test_a_failed_apply_is_shown_and_the_version_stays_published(
    admin: FlaskClient, sessions: sessionmaker[Session], app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real pbx, with no Asterisk config folder set: Asterisk cannot take the queues.
    monkeypatch.setitem(app.extensions, "pbx", PbxClient(app.config["CALLCARDS_SETTINGS"]))
    before = _version_count(sessions)
    response = admin.post(
        "/callflow/publish", data={"comment": "same again"}, follow_redirects=True
    )
    assert _version_count(sessions) == before + 1
    assert "Asterisk did not accept the queues:" in response.text
    assert "Asterisk refused" in response.text
    overview = admin.get("/callflow/").text
    assert "Asterisk refused" in overview


def test_the_diff_shows_a_changed_option(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    asterisk_says(ApplyResult(ok=True, changed=False))
    _set_option_one(sessions, "reception")
    overview = admin.get("/callflow/").text
    assert "Unpublished changes" in overview
    before, after = _change_row(overview, "key 1").split('class="after"')
    assert "queue <b>appointments</b>" in before and "queue <b>reception</b>" in after
    response = admin.post("/callflow/publish", data={"comment": "key 1"})
    version_page = admin.get(response.headers["Location"]).text
    before, after = _change_row(version_page, "key 1").split('class="after"')
    assert "queue <b>appointments</b>" in before and "queue <b>reception</b>" in after
    assert "1 change<" in admin.get("/callflow/versions").text
    assert "The draft is the same as the published flow." in admin.get("/callflow/").text


def test_the_diff_shows_the_closed_action_turned_voicemail(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    asterisk_says(ApplyResult(ok=True, changed=False))
    with transaction(sessions) as session:
        clinic = session.scalar(select(Schedule).where(Schedule.name == "clinic"))
        assert clinic is not None
        clinic.closed_action = {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 60}
    response = admin.post("/callflow/publish", data={"comment": "messages at night"})
    assert response.status_code == 302
    before, after = _change_row(admin.get(response.headers["Location"]).text, "when closed").split(
        'class="after"'
    )
    assert "hang up" in before and "<code>vm-goodbye</code>" in before
    assert "the caller leaves a message: <code>vm-intro</code>, up to 60 s" in after


def test_rollback_restores_the_old_document_exactly_as_a_new_version(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    asterisk_says(ApplyResult(ok=True, changed=True))
    with sessions() as session:
        first = latest_version(session)
        assert first is not None
        first_id, first_document = first.id, first.document
    # Version 2: a changed key, a new queue, menu, schedule and DID, another default queue.
    _set_option_one(sessions, "reception")
    with transaction(sessions) as session:
        session.add(Queue(name="billing", title="Оплата"))
        session.add(
            IvrMenu(
                name="extra",
                prompt="hello",
                options=[],
                default_action={"kind": "queue", "target": "billing"},
            )
        )
        night = Schedule(
            name="night",
            timezone="UTC",
            weekly={},
            holidays=[],
            exceptions=[],
            closed_action={"kind": "hangup", "message": None},
        )
        session.add(night)
        session.add(
            Did(number="78120000000", entry={"kind": "menu", "target": "extra"}, schedule=night)
        )
    assert admin.post("/callflow/publish", data={"comment": "v2"}).status_code == 302
    response = admin.post(
        f"/callflow/versions/{first_id}/rollback", data={"version": str(first_id)}
    )
    assert response.status_code == 302
    with sessions() as session:
        assert draft_document(session) == first_document
        newest = latest_version(session)
        assert newest is not None and newest.comment == f"rollback to {first_id}"
        assert newest.document == first_document
        billing = session.scalar(select(Queue).where(Queue.name == "billing"))
        assert billing is not None and billing.active is False  # kept, only deactivated
        assert session.scalar(select(IvrMenu).where(IvrMenu.name == "extra")) is None
        assert session.scalar(select(Schedule).where(Schedule.name == "night")) is None
    assert "Rolled back" in admin.get(response.headers["Location"]).text


def test_rollback_needs_its_confirmation(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    before = _version_count(sessions)
    response = admin.post("/callflow/versions/1/rollback", data={}, follow_redirects=True)
    assert "The rollback was not confirmed; nothing changed." in response.text
    assert _version_count(sessions) == before


def test_replace_document_removes_what_the_document_lacks(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as session:
        document = draft_document(session)
        smaller = {
            **document,
            "menus": [],
            "dids": [],
            "schedules": [],
            "queues": [q for q in document["queues"] if q["name"] == "reception"],
        }
        replace_document(session, smaller)
        assert draft_document(session) == smaller
        appointments = session.scalar(select(Queue).where(Queue.name == "appointments"))
        assert appointments is not None and not appointments.active
        replace_document(session, document)
        assert draft_document(session) == document


def _members(sessions: sessionmaker[Session], queue: str) -> dict[str, int]:
    """login -> penalty of the queue's operators in the draft tables."""
    with sessions() as session:
        rows = session.execute(
            select(User.login, QueueMember.penalty)
            .join(QueueMember.user)
            .join(QueueMember.queue)
            .where(Queue.name == queue)
        )
        return {login: penalty for login, penalty in rows}


def test_queue_setup_is_in_the_diff_and_a_rollback_restores_and_applies_it(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    applies = asterisk_says(ApplyResult(ok=True, changed=True))
    with sessions() as session:
        first = latest_version(session)
        assert first is not None
        first_id = first.id
    before = _members(sessions, "reception")
    assert before == {"operator1": 0, "operator2": 0}
    with transaction(sessions) as session:
        reception = session.scalar(select(Queue).where(Queue.name == "reception"))
        assert reception is not None
        reception.strategy, reception.wrapup_sec, reception.retention_days = "ringall", 10, 30
        for member in session.scalars(
            select(QueueMember).where(QueueMember.queue_id == reception.id)
        ).all():
            if member.user.login == "operator2":
                session.delete(member)
            else:
                member.penalty = 3
    overview = admin.get("/callflow/").text
    before_cell, after_cell = _change_row(overview, "ring strategy").split('class="after"')
    assert "in turn, remembering who was rung last" in before_cell  # rrmemory, by its name
    assert "all operators at once" in after_cell  # ringall
    before_cell, after_cell = _change_row(overview, "operators (penalty)").split('class="after"')
    assert "operator1 (0), operator2 (0)" in before_cell and "operator1 (3)" in after_cell
    assert "∞" in _change_row(overview, "recordings kept, days").split('class="after"')[0]
    assert admin.post("/callflow/publish", data={"comment": "ringall"}).status_code == 302

    response = admin.post(
        f"/callflow/versions/{first_id}/rollback",
        data={"version": str(first_id)},
        follow_redirects=True,
    )
    assert "Rolled back" in response.text
    assert "Asterisk accepted the queues and operators." in response.text
    assert len(applies) == 2  # the publish, then the rollback sent the queues again
    assert _members(sessions, "reception") == before
    with sessions() as session:
        reception = session.scalar(select(Queue).where(Queue.name == "reception"))
        assert reception is not None
        assert (reception.strategy, reception.wrapup_sec, reception.retention_days) == (
            "rrmemory",
            0,
            None,
        )


def test_a_rollback_says_which_operators_are_no_longer_on_the_staff(
    admin: FlaskClient,
    sessions: sessionmaker[Session],
    asterisk_says: Callable[[ApplyResult], list[Any]],
) -> None:
    asterisk_says(ApplyResult(ok=True, changed=True))
    with transaction(sessions) as session:
        temp = User(login="temp", name="Временный", role="operator", extension="109")
        temp.set_password("temp-password-1")
        session.add(temp)
        session.flush()
        reception = session.scalar(select(Queue).where(Queue.name == "reception"))
        assert reception is not None
        session.add(QueueMember(user_id=temp.id, queue_id=reception.id, penalty=1))
    assert admin.post("/callflow/publish", data={"comment": "temp"}).status_code == 302
    with sessions() as session:
        with_temp = latest_version(session)
        assert with_temp is not None
        version_id = with_temp.id
    with transaction(sessions) as session:
        session.delete(session.scalar(select(User).where(User.login == "temp")))
    response = admin.post(
        f"/callflow/versions/{version_id}/rollback",
        data={"version": str(version_id)},
        follow_redirects=True,
    )
    assert (
        f"Queue reception: operator temp of version {version_id} is no longer on the staff "
        "and is left out."
    ) in response.text
    assert _members(sessions, "reception") == {"operator1": 0, "operator2": 0}
