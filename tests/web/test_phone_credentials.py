"""The browser phone's password reaches the operator's own signed-in page, and nothing else.

The site keeps only the digest Asterisk checks; the page asks /workspace/phone for the
password (derived from SECRET_KEY and the user's phone generation) each time it starts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from models import PhoneType, User
from models.session import transaction
from pbx.endpoints_conf import password_digest
from tests.web.conftest import login, make_settings, user_id
from tests.web.test_api import token_for
from webadmin import create_app

SOCKET = "wss://pbx.clinic.example:8089/ws"


@pytest.fixture
def phone_app(web_database_url: str, recordings_dir: Path) -> Flask:
    """The site with the browser phone on Asterisk's WSS socket."""
    settings = replace(make_settings(web_database_url, recordings_dir), phone_wss_url=SOCKET)
    return create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})


def make_phone_password(app: Flask, operator_id: int) -> None:
    """The admin presses "Make a phone password" for the operator."""
    admin = app.test_client()
    login(admin, "admin")
    assert admin.post(f"/admin/users/{operator_id}/phone-password").status_code == 200


def operator_page(app: Flask) -> FlaskClient:
    """operator1's browser, signed in."""
    page = app.test_client()
    assert login(page, "operator1").status_code == 302
    return page


def test_the_operator_s_page_gets_a_password_asterisk_accepts_and_nobody_stores(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    operator_id = user_id(sessions, "operator1")
    make_phone_password(phone_app, operator_id)
    answer = operator_page(phone_app).get("/workspace/phone")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == "no-store"
    phone = answer.get_json()
    assert (phone["extension"], phone["socket"]) == ("101", SOCKET)
    with sessions() as session:
        user = session.get_one(User, operator_id)
        # What Asterisk holds is the digest of exactly this password; the password is nowhere.
        assert user.sip_password_digest == password_digest("101", phone["password"])
        assert phone["password"] not in repr(
            session.execute(User.__table__.select().where(User.id == operator_id)).one()
        )


def test_the_admin_never_sees_a_browser_phone_s_password(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    operator_id = user_id(sessions, "operator1")
    admin = phone_app.test_client()
    login(admin, "admin")
    admin.post("/locale", data={"locale": "en"})
    made = admin.post(f"/admin/users/{operator_id}/phone-password")
    assert made.status_code == 200
    assert "the operator's workspace takes it by itself" in made.text
    password = operator_page(phone_app).get("/workspace/phone").get_json()["password"]
    assert password not in made.text and "<code>" not in made.text.split('id="phone"')[1]


def test_a_new_phone_password_retires_the_one_the_page_had(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    operator_id = user_id(sessions, "operator1")
    make_phone_password(phone_app, operator_id)
    page = operator_page(phone_app)
    first = page.get("/workspace/phone").get_json()
    make_phone_password(phone_app, operator_id)
    second = page.get("/workspace/phone").get_json()
    assert second["password"] != first["password"]
    assert second["generation"] == first["generation"] + 1
    with sessions() as session:
        digest = session.get_one(User, operator_id).sip_password_digest
    assert digest == password_digest("101", second["password"])
    assert digest != password_digest("101", first["password"])


def test_no_password_for_an_api_token_a_desk_phone_or_a_signed_out_page(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    operator_id = user_id(sessions, "operator1")
    make_phone_password(phone_app, operator_id)
    scripted = phone_app.test_client().get(
        "/workspace/phone", headers=token_for(sessions, "operator1")
    )
    assert scripted.status_code == 403
    assert "password" not in scripted.get_json()

    page = operator_page(phone_app)
    page.post("/logout")
    assert page.get("/workspace/phone").status_code == 401

    with transaction(sessions) as session:
        session.execute(
            update(User).where(User.id == operator_id).values(phone_type=PhoneType.DESKPHONE.value)
        )
    desk = operator_page(phone_app).get("/workspace/phone")
    assert desk.status_code == 409
    assert desk.get_json()["error"]["code"] == "phone_not_browser"


def test_a_deactivated_operator_gets_no_password(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    operator_id = user_id(sessions, "operator1")
    make_phone_password(phone_app, operator_id)
    page = operator_page(phone_app)
    with transaction(sessions) as session:
        session.execute(update(User).where(User.id == operator_id).values(active=False))
    answer = page.get("/workspace/phone")
    assert answer.status_code == 401
    assert "password" not in (answer.get_json() or {})


def test_without_a_phone_password_the_page_is_told_to_ask_the_admin(
    phone_app: Flask, sessions: sessionmaker[Session]
) -> None:
    answer = operator_page(phone_app).get("/workspace/phone")
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "phone_password_missing"
    assert "попросите администратора" in answer.get_json()["error"]["message"]  # in her language


@pytest.mark.parametrize(
    ("socket", "allowed"),
    [
        ("wss://pbx.clinic.example:8089/ws", "wss://pbx.clinic.example:8089"),
        ("ws://127.0.0.1:8088/ws", "ws://127.0.0.1:8088"),
        # Plain WS beyond loopback would carry SIP in clear: the phone is off instead.
        ("ws://pbx.clinic.example:8088/ws", None),
        ("", None),
    ],
)
def test_the_csp_lets_the_page_reach_exactly_the_phone_socket(
    web_database_url: str,
    recordings_dir: Path,
    sessions: sessionmaker[Session],
    socket: str,
    allowed: str | None,
) -> None:
    settings = replace(make_settings(web_database_url, recordings_dir), phone_wss_url=socket)
    app = create_app(settings, {"TESTING": True, "WTF_CSRF_ENABLED": False})
    make_phone_password(app, user_id(sessions, "operator1"))
    page = operator_page(app)
    policy = page.get("/").headers["Content-Security-Policy"]
    connect = next(part for part in policy.split("; ") if part.startswith("connect-src"))
    assert connect == ("connect-src 'self'" if allowed is None else f"connect-src 'self' {allowed}")
    answer = page.get("/workspace/phone")
    if allowed is None:
        assert answer.status_code == 409
        assert answer.get_json()["error"]["code"] == "phone_not_configured"
    else:
        assert answer.status_code == 200
