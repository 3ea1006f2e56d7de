"""Sign-in limits, redirects, CSRF, headers, cookies, API tokens, and the language switch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, User, utcnow
from models.session import transaction
from tests.web.conftest import login
from webadmin.auth.identity import issue_api_token
from webadmin.auth.routes import safe_next


def _user(sessions: sessionmaker[Session], login_name: str) -> User:
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == login_name))
        assert user is not None
        return user


def test_five_wrong_passwords_lock_the_account_for_five_minutes(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    for _ in range(5):
        assert login(client, "operator1", "wrong").status_code == 401
    locked = _user(sessions, "operator1").locked_until
    assert locked is not None
    assert timedelta(minutes=4) < locked - utcnow() <= timedelta(minutes=5)
    refused = login(client, "operator1")  # even the right password waits out the lock
    assert refused.status_code == 401 and "Неверный логин или пароль." in refused.text
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.login == "operator1")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )
    assert login(client, "operator1").status_code == 302
    assert _user(sessions, "operator1").failed_logins == 0


def test_one_address_guessing_many_logins_is_slowed_down(
    app: Flask, client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    for attempt in range(app.config["LOGIN_IP_FAILURES"]):
        assert login(client, f"nobody{attempt}", "guess").status_code == 401
    assert login(client, "operator2").status_code == 429
    with sessions() as session:
        failures = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "auth.login_failed")
        )
    assert failures == app.config["LOGIN_IP_FAILURES"]


def test_a_deactivated_account_cannot_sign_in_and_its_session_ends(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    assert login(client, "operator2").status_code == 302
    with transaction(sessions) as session:
        session.execute(update(User).where(User.login == "operator2").values(active=False))
    assert client.get("/calls").headers["Location"].startswith("/login")
    assert login(client, "operator2").status_code == 403


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/%0d%0aSet-Cookie:x",
    ],
)
def test_no_open_redirect_after_sign_in(client: FlaskClient, target: str) -> None:
    response = login(client, "operator1", next=target)
    assert response.status_code == 302
    assert response.headers["Location"] in {"/", target} and not response.headers[
        "Location"
    ].startswith(("//", "http", "/\\", "javascript"))
    assert safe_next(target) is None or target.startswith("/%")


def test_sign_in_returns_to_the_page_asked_for(client: FlaskClient) -> None:
    first = client.get("/calls/mine?page=1")
    assert first.headers["Location"] == "/login?next=%2Fcalls%2Fmine%3Fpage%3D1"
    response = login(client, "operator1", next="/calls/mine?page=1")
    assert response.headers["Location"] == "/calls/mine?page=1"


def test_a_form_without_the_csrf_token_is_refused(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    assert (
        client.post("/login", data={"login": "operator1", "password": "operator1"}).status_code
        == 400
    )
    page = client.get("/login").text
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post(
        "/login", data={"login": "operator1", "password": "operator1", "csrf_token": token}
    )
    assert response.status_code == 302
    assert client.post("/logout").status_code == 400  # still refused without the token


def test_security_headers_and_cookie_flags(client: FlaskClient) -> None:
    page = client.get("/login")
    headers = page.headers
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    cookie = login(client, "operator1").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_behind_https_the_session_cookie_is_secure(web_database_url: str, recordings_dir) -> None:  # type: ignore[no-untyped-def]
    from callcards.config import Settings
    from webadmin import create_app

    settings = Settings(
        database_url=web_database_url,
        recordings_dir=recordings_dir,
        secret_key="x" * 32,
        public_url="https://cc.example",
    )
    app = create_app(settings, test_config={"TESTING": True, "WTF_CSRF_ENABLED": False})
    response = login(app.test_client(), "operator1")
    assert "Secure" in response.headers["Set-Cookie"]
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_an_api_token_signs_in_without_a_cookie_until_it_expires(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.login == "operator1"))
        assert user is not None
        token = issue_api_token(user)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/workspace/current", headers=bearer).json == {"call_id": None}
    assert (
        client.get("/workspace/current", headers={"Authorization": "Bearer wrong"}).status_code
        == 401
    )
    with transaction(sessions) as session:
        session.execute(
            update(User)
            .where(User.login == "operator1")
            .values(api_token_expires_at=utcnow() - timedelta(seconds=1))
        )
    assert client.get("/workspace/current", headers=bearer).status_code == 401


def test_a_password_reset_ends_the_users_other_sessions(
    client: FlaskClient, app: Flask, sessions: sessionmaker[Session]
) -> None:
    login(client, "operator2")
    assert client.get("/calls").status_code == 200
    admin = app.test_client()
    login(admin, "admin")
    target = _user(sessions, "operator2").id
    response = admin.post(
        f"/admin/users/{target}/password",
        data={"password": "new-secret-1", "confirm": "new-secret-1"},
    )
    assert response.status_code == 302
    assert client.get("/calls").status_code == 302  # the old session is over
    assert login(client, "operator2", "new-secret-1").status_code == 302
    assert admin.get("/admin/users").status_code == 200


def test_language_is_russian_by_default_and_switches_per_user(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    assert "Войти" in client.get("/login").text
    client.post("/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/login"})
    assert "Sign in" in client.get("/login").text  # a visitor's choice lives in the session
    login(client, "operator1")
    assert "Рабочее место" in client.get("/").text  # the user's own language applies
    response = client.post(
        "/locale", data={"locale": "en"}, headers={"Referer": "http://localhost/calls/mine"}
    )
    assert response.headers["Location"] == "/calls/mine"
    assert "Workspace" in client.get("/").text
    assert _user(sessions, "operator1").locale == "en"
    external = client.post(
        "/locale", data={"locale": "ru"}, headers={"Referer": "https://evil.example/x"}
    )
    assert external.headers["Location"] == "/"
