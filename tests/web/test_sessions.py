"""Sessions end on the server; a request is token- or cookie-authenticated, never a mix of both."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Call, StaffSession, User, utcnow
from models.session import transaction
from tests.web.conftest import login, user_id, write_tone
from webadmin.auth.identity import issue_api_token

SESSION_COOKIE = "session"
HAND_LOGGED = {
    "direction": "inbound",
    "status": "answered",
    "src_number": "+79160000001",
    "started_at": "2026-03-02T10:00:00+03:00",
    "ended_at": "2026-03-02T10:02:00+03:00",
}


def _copy_of_cookie(client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of this one's session cookie (what a thief would have)."""
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie is not None, "the browser is not signed in"
    thief = client.application.test_client()
    thief.set_cookie(SESSION_COOKIE, cookie.value)
    return thief


def _signed_out(browser: FlaskClient) -> bool:
    """True when the browser is sent to sign in, on pages and on the API alike."""
    page = browser.get("/calls")
    api = browser.get("/api/calls")
    return (
        page.status_code == 302
        and page.headers["Location"].startswith("/login")
        and api.status_code == 401
    )


def _token(sessions: sessionmaker[Session], login_name: str) -> str:
    with transaction(sessions) as session:
        user = session.scalar(select(User).where(User.login == login_name))
        assert user is not None
        return issue_api_token(user)


def _csrf_login(app: Flask, login_name: str) -> tuple[FlaskClient, str]:
    """A browser signed in on the production-like site, and its CSRF token."""
    browser = app.test_client()
    token = browser.get("/login").text.split('name="csrf_token" type="hidden" value="')[1]
    response = browser.post(
        "/login",
        data={"login": login_name, "password": login_name, "csrf_token": token.split('"')[0]},
    )
    assert response.status_code == 302
    # Signing in starts a fresh session, with a CSRF token of its own.
    page = browser.get("/calls").text
    return browser, page.split('<meta name="csrf-token" content="')[1].split('"')[0]


def _cards(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Call)) or 0


def test_a_cookie_copied_before_sign_out_opens_nothing_after_it(client: FlaskClient) -> None:
    login(client, "operator1")
    thief = _copy_of_cookie(client)
    assert thief.get("/calls").status_code == 200  # the copy works while the session lives
    assert client.post("/logout").status_code == 302
    assert _signed_out(thief)
    assert _signed_out(client)


def test_signing_out_in_one_browser_leaves_the_others_signed_in(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    def open_sessions() -> int:
        with sessions() as session:
            return (
                session.scalar(
                    select(func.count())
                    .select_from(StaffSession)
                    .where(StaffSession.user_id == user_id(sessions, "operator1"))
                )
                or 0
            )

    office, home = app.test_client(), app.test_client()
    login(office, "operator1")
    login(home, "operator1")
    before = open_sessions()
    office.post("/logout")
    assert _signed_out(office)
    assert home.get("/calls").status_code == 200
    assert open_sessions() == before - 1  # exactly the office's session ended


def test_a_cookie_copied_before_a_password_reset_opens_nothing_after_it(
    client: FlaskClient, app: Flask, sessions: sessionmaker[Session]
) -> None:
    login(client, "operator2")
    thief = _copy_of_cookie(client)
    admin = app.test_client()
    login(admin, "admin")
    target = user_id(sessions, "operator2")
    response = admin.post(
        f"/admin/users/{target}/password",
        data={"password": "new-secret-2", "confirm": "new-secret-2"},
    )
    assert response.status_code == 302
    assert _signed_out(thief)
    assert _signed_out(client)
    assert admin.get("/admin/users").status_code == 200  # the admin's own session goes on


def test_an_admin_resetting_their_own_password_stays_signed_in_only_where_they_did_it(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "admin")
    login(elsewhere, "admin")
    own = user_id(sessions, "admin")
    response = here.post(
        f"/admin/users/{own}/password", data={"password": "new-secret-3", "confirm": "new-secret-3"}
    )
    assert response.status_code == 302
    assert here.get("/admin/users").status_code == 200
    assert _signed_out(elsewhere)


def _edit_supervisor(admin: FlaskClient, target: int, *, active: bool) -> None:
    form = {
        "login": "supervisor",
        "name": "Supervisor",
        "role": "supervisor",
        "extension": "",
        "phone_type": "webrtc",
        "locale": "ru",
    }
    if active:
        form["active"] = "y"
    response = admin.post(f"/admin/users/{target}", data=form)
    assert response.status_code == 302, response.text


def test_a_cookie_copied_before_deactivation_stays_dead_after_reactivation(
    client: FlaskClient, app: Flask, sessions: sessionmaker[Session]
) -> None:
    login(client, "supervisor")
    thief = _copy_of_cookie(client)
    admin = app.test_client()
    login(admin, "admin")
    target = user_id(sessions, "supervisor")
    _edit_supervisor(admin, target, active=False)
    assert _signed_out(thief)
    _edit_supervisor(admin, target, active=True)
    assert _signed_out(thief)  # the session ended on the server, not just while inactive
    assert _signed_out(client)
    assert login(client, "supervisor").status_code == 302
    assert client.get("/calls").status_code == 200


def test_an_invalid_bearer_beside_a_valid_cookie_is_refused_and_changes_nothing(
    csrf_app: Flask, sessions: sessionmaker[Session]
) -> None:
    browser, _csrf = _csrf_login(csrf_app, "operator1")
    before = _cards(sessions)
    for header in ("Bearer wrong", "Bearer", "bearer  "):
        response = browser.post("/api/calls", json=HAND_LOGGED, headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json["error"]["code"] == "unauthorized"
        assert "Bearer" in response.headers["WWW-Authenticate"]
        # A page as well: the cookie is ignored once a token is named.
        assert browser.get("/calls", headers={"Authorization": header}).status_code == 401
    assert _cards(sessions) == before
    assert browser.get("/calls").status_code == 200  # the cookie alone still works


def test_a_cookie_without_the_csrf_token_changes_nothing(
    csrf_app: Flask, sessions: sessionmaker[Session]
) -> None:
    browser, csrf = _csrf_login(csrf_app, "operator1")
    before = _cards(sessions)
    assert browser.post("/api/calls", json=HAND_LOGGED).status_code == 400
    assert _cards(sessions) == before
    created = browser.post("/api/calls", json=HAND_LOGGED, headers={"X-CSRFToken": csrf})
    assert created.status_code == 201


def test_a_valid_bearer_needs_no_csrf_token(
    csrf_app: Flask, sessions: sessionmaker[Session]
) -> None:
    program = csrf_app.test_client()
    bearer = {"Authorization": f"Bearer {_token(sessions, 'operator1')}"}
    created = program.post("/api/calls", json=HAND_LOGGED, headers=bearer)
    assert created.status_code == 201
    assert created.json["operator_id"] == user_id(sessions, "operator1")
    assert program.get_cookie(SESSION_COOKIE) is None  # a token opens no session


def test_a_bearer_of_one_user_beside_the_cookie_of_another_acts_as_the_token_s_user(
    csrf_app: Flask, sessions: sessionmaker[Session]
) -> None:
    browser, _csrf = _csrf_login(csrf_app, "operator2")
    bearer = {"Authorization": f"Bearer {_token(sessions, 'operator1')}"}
    created = browser.post("/api/calls", json=HAND_LOGGED, headers=bearer)
    assert created.status_code == 201
    assert created.json["operator_id"] == user_id(sessions, "operator1")
    mine = browser.get("/calls/mine", headers=bearer)
    assert mine.status_code == 200 and HAND_LOGGED["src_number"] in mine.text
    # Without the token the same browser is operator2 again, who does not see that card.
    card = browser.get(f"/api/calls/{created.json['id']}")
    assert card.status_code == 403


def test_answers_with_personal_data_are_never_stored(
    client: FlaskClient,
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    recordings_dir: Path,
) -> None:
    call_id = make_call(
        "operator1", status="ringing", answered_at=None, ended_at=None, ringing_extension="101"
    )
    write_tone(recordings_dir / "2026" / "03" / "03" / "1700000001.7.wav")
    recorded = make_call("operator1", recording_path="2026/03/03/1700000001.7.wav")
    login(client, "operator1")
    with client.get(f"/calls/{recorded}/recording", headers={"Range": "bytes=0-"}) as audio:
        assert audio.status_code == 206
        assert audio.headers["Cache-Control"] == "no-store"
    for path in (
        "/api/calls",
        f"/api/calls/{call_id}",
        "/workspace/current",
        "/calls",
        "/api/dictionaries/purposes",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path
    admin = client.application.test_client()
    bearer = {"Authorization": f"Bearer {_token(sessions, 'admin')}"}
    export = admin.get("/api/export/calls.csv", headers=bearer)
    assert export.status_code == 200
    assert export.headers["Cache-Control"] == "no-store"
    assert admin.get(f"/api/calls/{call_id}", headers=bearer).headers["Cache-Control"] == "no-store"
    style = client.get("/static/style.css")
    style.close()
    assert style.status_code == 200 and style.headers.get("Cache-Control") != "no-store"


def _as_seen_by_a_guesser(response_text: str, typed_login: str) -> str:
    """The page minus what differs for every visitor: the typed login and the CSRF token."""
    page = response_text.replace(f'value="{typed_login}"', 'value="…"')
    return re.sub(r'(name="csrf-token" content|name="csrf_token" value)="[^"]+"', r'\1=""', page)


def test_a_locked_account_answers_exactly_like_a_wrong_password(
    client: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    for _ in range(5):
        assert login(client, "operator1", "wrong").status_code == 401
    with sessions() as session:
        locked = session.scalar(select(User.locked_until).where(User.login == "operator1"))
    assert locked is not None
    answers = {
        "unknown login": (login(client, "nobody-here", "operator1"), "nobody-here"),
        "locked, right password": (login(client, "operator1"), "operator1"),
        "locked, wrong password": (login(client, "operator1", "wrong"), "operator1"),
    }
    seen = {
        (
            response.status_code,
            _as_seen_by_a_guesser(response.text, typed),
            tuple(
                sorted(
                    (name, value)
                    for name, value in response.headers.items()
                    if name not in {"Content-Length"}
                )
            ),
        )
        for response, typed in answers.values()
    }
    assert len(seen) == 1, answers.keys()
    status, text, _headers = seen.pop()
    assert status == 401 and "Неверный логин или пароль." in text
    with sessions() as session:
        still_locked = session.scalar(select(User.locked_until).where(User.login == "operator1"))
    assert still_locked == locked  # the guesses while locked do not extend the lock


def test_a_session_ends_when_its_lifetime_is_over_and_its_row_goes_at_the_next_sign_in(
    app: Flask, sessions: sessionmaker[Session]
) -> None:
    lifetime = app.config["SESSION_LIFETIME"]
    yesterday, today = app.test_client(), app.test_client()
    login(yesterday, "operator1")
    assert yesterday.get("/calls").status_code == 200
    with sessions.begin() as session:  # the sign-in was a lifetime and a minute ago
        session.execute(
            update(StaffSession)
            .where(StaffSession.user_id == user_id(sessions, "operator1"))
            .values(created_at=utcnow() - lifetime - timedelta(minutes=1))
        )
    assert _signed_out(yesterday)
    login(today, "operator1")
    assert today.get("/calls").status_code == 200
    with sessions() as session:
        ages = session.scalars(
            select(StaffSession.created_at).where(
                StaffSession.user_id == user_id(sessions, "operator1")
            )
        ).all()
    assert ages and all(age > utcnow() - lifetime for age in ages)
