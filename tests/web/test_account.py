"""A user's own page: a personal API token, shown once, stored as a digest, revocable."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, User, utcnow
from tests.web.conftest import login


def _account(sessions: sessionmaker[Session], login_name: str) -> User:
    with sessions() as session:
        user = session.scalar(select(User).where(User.login == login_name))
        assert user is not None
        return user


def _shown_token(page: str) -> str:
    found = re.search(r'<code id="new-token" class="token">([^<]+)</code>', page)
    assert found, "the new token is not on the page"
    return found.group(1)


def test_a_new_token_is_shown_once_and_stored_as_a_digest(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "operator1")
    page = client.get("/account").text
    assert "У вас нет API-токена." in page and "Мой профиль" in page
    response = client.post("/account/token", data={"days": "30"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    token = _shown_token(response.text)
    user = _account(sessions, "operator1")
    assert user.api_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert user.api_token_expires_at is not None
    left = user.api_token_expires_at - utcnow()
    assert timedelta(days=29, hours=23) < left <= timedelta(days=30)
    later = client.get("/account").text
    assert token not in later and "действует до" in later
    program = client.application.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert program.get("/api/calls", headers=bearer).status_code == 200


def test_a_new_token_replaces_the_old_one_and_revoking_ends_it(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    login(client, "supervisor")
    first = _shown_token(client.post("/account/token", data={"days": "9999"}).text)
    user = _account(sessions, "supervisor")
    assert user.api_token_expires_at is not None  # an unknown validity falls back to 90 days
    assert user.api_token_expires_at - utcnow() > timedelta(days=89)
    second = _shown_token(client.post("/account/token").text)
    program = client.application.test_client()
    assert (
        program.get("/api/calls", headers={"Authorization": f"Bearer {first}"}).status_code == 401
    )
    assert (
        program.get("/api/calls", headers={"Authorization": f"Bearer {second}"}).status_code == 200
    )
    response = client.post("/account/token/revoke")
    assert response.status_code == 302
    assert "API-токен отозван." in client.get(response.headers["Location"]).text
    assert _account(sessions, "supervisor").api_token_hash is None
    refused = program.get("/api/calls", headers={"Authorization": f"Bearer {second}"})
    assert refused.status_code == 401 and refused.json["error"]["code"] == "unauthorized"
    with sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert actions == ["api_token.create", "api_token.create", "api_token.revoke"]


def test_a_visitor_is_sent_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert client.post("/account/token").status_code == 302
