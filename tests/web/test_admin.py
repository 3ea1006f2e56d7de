"""Admin: dictionaries (never delete what is in use), users, and the audit log."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, CallCategory, CallPurpose, CallSubCategory, User
from pbx.client import PbxClient
from tests.web.conftest import login, user_id


def _purposes(sessions: sessionmaker[Session]) -> list[CallPurpose]:
    with sessions() as session:
        return list(
            session.scalars(select(CallPurpose).order_by(CallPurpose.position, CallPurpose.id))
        )


def test_admin_creates_renames_reorders_and_hides_a_purpose(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    assert (
        client.post("/admin/dictionaries/purposes", data={"name": "Отзыв о враче"}).status_code
        == 302
    )
    created = _purposes(sessions)[-1]
    assert created.name == "Отзыв о враче" and created.active
    assert (
        client.post("/admin/dictionaries/purposes", data={"name": "Отзыв о враче"}).status_code
        == 302
    )  # a duplicate is refused with a message
    assert [p.name for p in _purposes(sessions)].count("Отзыв о враче") == 1
    client.post(f"/admin/dictionaries/purposes/{created.id}/rename", data={"name": "Отзыв"})
    client.post(f"/admin/dictionaries/purposes/{created.id}/move", data={"direction": "up"})
    names = [p.name for p in _purposes(sessions)]
    assert names[-2] == "Отзыв"
    client.post(f"/admin/dictionaries/purposes/{created.id}/active", data={"active": "0"})
    hidden = next(p for p in _purposes(sessions) if p.id == created.id)
    assert not hidden.active
    page = client.get("/admin/dictionaries/purposes").text
    assert "Отзыв" in page


def test_an_item_in_use_is_never_deleted_an_unused_one_may_be(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    used, unused = _purposes(sessions)[:2]
    make_call(purpose_id=used.id)
    login(client, "admin")
    client.post(f"/admin/dictionaries/purposes/{used.id}/delete")
    client.post(f"/admin/dictionaries/purposes/{unused.id}/delete")
    remaining = {purpose.id for purpose in _purposes(sessions)}
    assert used.id in remaining and unused.id not in remaining
    with sessions() as session:
        category = session.scalar(select(CallCategory).order_by(CallCategory.position))
        assert category is not None
    client.post(f"/admin/dictionaries/categories/{category.id}/delete")
    with sessions() as session:
        assert session.get(CallCategory, category.id) is not None  # it has subcategories


def test_a_subcategory_is_added_to_its_category(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        category = session.scalar(select(CallCategory).order_by(CallCategory.position))
        assert category is not None
    login(client, "admin")
    client.post(
        "/admin/dictionaries/subcategories", data={"name": "Вакцинация", "category": category.id}
    )
    with sessions() as session:
        sub = session.scalar(select(CallSubCategory).where(CallSubCategory.name == "Вакцинация"))
        assert sub is not None and sub.category_id == category.id


def test_admin_creates_an_operator_with_extension_and_queues(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    form = {
        "login": "operator3",
        "name": "Мария Новикова",
        "role": "operator",
        "extension": "103",
        "locale": "ru",
        "served_queues": ["1"],
        "active": "y",
        "password": "short",
    }
    assert client.post("/admin/users/new", data=form).status_code == 400  # password too short
    form["password"] = "long-enough-1"
    assert client.post("/admin/users/new", data=form).status_code == 302
    taken = {**form, "login": "operator4", "extension": "101"}
    refused = client.post("/admin/users/new", data=taken)
    assert refused.status_code == 400 and "field-error" in refused.text
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == "operator3"))
        assert user is not None
        assert (user.role, user.extension, user.active) == ("operator", "103", True)
        assert [queue.id for queue in user.served_queues] == [1]
    other = client.application.test_client()
    assert login(other, "operator3", "long-enough-1").status_code == 302


def test_admin_changes_a_role_and_deactivates_but_not_themselves(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    target = user_id(sessions, "operator2")
    response = client.post(
        f"/admin/users/{target}",
        data={
            "login": "operator2",
            "name": "Иван Петров",
            "role": "supervisor",
            "locale": "ru",
            "overseen_queues": ["2"],
        },
    )
    assert response.status_code == 302
    with sessions() as session:
        user = session.get(User, target)
        assert user is not None
        assert user.role == "supervisor" and not user.active
        assert [queue.id for queue in user.supervised_queues] == [2]
    me = user_id(sessions, "admin")
    refused = client.post(
        f"/admin/users/{me}",
        data={"login": "admin", "name": "Анна", "role": "operator", "locale": "ru", "active": "y"},
    )
    assert refused.status_code == 400
    with sessions() as session:
        assert session.get(User, me).role == "admin"  # type: ignore[union-attr]


def test_the_audit_log_lists_and_filters_entries(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call()
    with sessions() as session, session.begin():
        session.add_all(
            [
                AuditEntry(
                    user_id=user_id(sessions, "supervisor"),
                    action="recording.listen",
                    call_id=call_id,
                    detail={},
                ),
                AuditEntry(
                    user_id=user_id(sessions, "admin"),
                    action="recording.download",
                    call_id=call_id,
                    detail={},
                ),
            ]
        )
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    page = client.get("/admin/audit").text
    assert "listened to a recording" in page and "downloaded a recording" in page
    only = client.get("/admin/audit?action=recording.download").text
    assert "downloaded a recording" in only and "listened to a recording</td>" not in only
    assert client.get("/admin/audit?from=not-a-date").status_code == 400


def test_admin_makes_a_phone_password_shown_once_and_kept_only_as_its_digest(
    client: FlaskClient,
    sessions: sessionmaker[Session],
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # AMI is set up, Asterisk's config folder is not.
    monkeypatch.setitem(app.extensions, "pbx", PbxClient(app.config["CALLCARDS_SETTINGS"]))
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    target = user_id(sessions, "operator1")
    with sessions.begin() as session:  # a desk phone: its password is typed into the phone
        session.get_one(User, target).phone_type = "deskphone"
    before = client.get(f"/admin/users/{target}").text
    assert "No phone password yet" in before
    response = client.post(f"/admin/users/{target}/phone-password")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="phone-password">.*?<code>([^<]+)</code>', response.text, re.S)
    assert password is not None and len(password[1]) >= 16
    # This site has no Asterisk folder configured: it says the phones were not applied.
    assert "Asterisk refused" in response.text
    assert "CALLCARDS_ASTERISK_ETC is not set" in response.text
    with sessions() as session:
        user = session.get(User, target)
        assert user is not None and user.extension == "101"
        ha1 = f"101:callcards:{password[1]}".encode()
        expected = hashlib.md5(ha1, usedforsecurity=False).hexdigest()
        assert user.sip_password_digest == f"md5:{expected}"
        assert password[1] not in str(session.scalars(select(AuditEntry.detail)).all())
    again = client.get(f"/admin/users/{target}").text
    assert password[1] not in again and "The phone password was made on" in again
    # A new extension makes the digest worthless: it is dropped and the admin is told.
    form = {
        "login": "operator1",
        "name": "Ольга Операторова",
        "role": "operator",
        "extension": "111",
        "locale": "en",
        "active": "y",
        "phone_type": "deskphone",
    }
    assert client.post(f"/admin/users/{target}", data=form).status_code == 302
    assert "make a new phone password" in client.get("/admin/users").text
    with sessions() as session:
        user = session.get(User, target)
        assert user is not None
        assert (user.sip_password_digest, user.phone_type) == (None, "deskphone")


def test_a_phone_password_needs_an_extension(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    target = user_id(sessions, "supervisor")
    response = client.post(f"/admin/users/{target}/phone-password")
    assert response.status_code == 400
    assert "Give the user an extension first" in response.text
    with sessions() as session:
        assert session.get(User, target).sip_password_digest is None  # type: ignore[union-attr]
