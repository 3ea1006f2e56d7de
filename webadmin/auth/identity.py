"""How a request is tied to a member of staff: a server-side session or an API bearer token.

A request that carries `Authorization: Bearer …` is token-authenticated only: its cookie is
ignored, so a bad token never falls back to the browser's session.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, current_app, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from models import StaffSession, User, utcnow
from webadmin.extensions import db, login_manager
from webadmin.staff import Staff


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_api_token(token: str) -> str:
    """The digest stored in `User.api_token_hash` (the token itself is never stored)."""
    return _digest(token)


def issue_api_token(user: User, valid_for: timedelta = timedelta(days=90)) -> str:
    """Give the user a new API token (replacing the old one) and return it, to show once."""
    token = secrets.token_urlsafe(32)
    user.api_token_hash = hash_api_token(token)
    user.api_token_expires_at = utcnow() + valid_for
    return token


def presents_bearer() -> bool:
    """True when the request names a bearer token, valid or not: then only the token counts."""
    scheme = request.headers.get("Authorization", "").strip().partition(" ")[0]
    return scheme.lower() == "bearer"


def bearer_token() -> str | None:
    """The API token from `Authorization: Bearer <token>`, if the request carries one."""
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _oldest_live_session() -> datetime:
    """Sessions signed in before this have ended (SESSION_LIFETIME, CALLCARDS_SESSION_HOURS)."""
    lifetime: timedelta = current_app.config["SESSION_LIFETIME"]
    return utcnow() - lifetime


def start_session(user: User) -> Staff:
    """A new server-side session for this user (the caller commits); its key goes in the cookie.

    Ended sessions of anyone are removed on the way: a browser closed without signing out
    leaves its row only until its lifetime is over and somebody signs in.
    """
    db.session.execute(delete(StaffSession).where(StaffSession.created_at < _oldest_live_session()))
    key = secrets.token_urlsafe(32)
    db.session.add(StaffSession(user_id=user.id, key_hash=_digest(key)))
    return Staff(user, session_key=key)


def end_session(staff: Staff) -> None:
    """Delete this browser's session row: a copy of its cookie opens nothing any more."""
    if staff.session_key is not None:
        db.session.execute(
            delete(StaffSession).where(StaffSession.key_hash == _digest(staff.session_key))
        )


def load_user(user_id: str) -> Staff | None:
    """The session's user, if the session still exists on the server and the user is active."""
    if presents_bearer():
        return None
    raw_id, _, key = user_id.partition(":")
    # Signed by us, so well-formed; checked anyway, as any input that reaches SQL is.
    if not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18 and key):
        return None
    user = db.session.scalar(_session_user(int(raw_id), key, _oldest_live_session()))
    if user is None or not user.active:
        return None
    return Staff(user, session_key=key)


def _session_user(user_id: int, key: str, oldest: datetime) -> Select[Any]:
    """The user of the server-side session with this cookie key, if it still stands."""
    return (
        select(User)
        .join(StaffSession, StaffSession.user_id == User.id)
        .where(
            StaffSession.key_hash == _digest(key),
            User.id == user_id,
            StaffSession.created_at >= oldest,
        )
    )


def sign_in_check(staff: Staff) -> Callable[[Session], bool]:
    """Whether `staff`'s sign-in still stands, asked later outside the request (a live
    stream asks every few seconds): their session row (signing out deletes it) or token."""
    user_id, key = staff.account.id, staff.session_key
    lifetime: timedelta = current_app.config["SESSION_LIFETIME"]
    token_hash = staff.account.api_token_hash

    def check(session: Session) -> bool:
        if key is not None:
            user = session.scalar(_session_user(user_id, key, utcnow() - lifetime))
            return user is not None and bool(user.active)
        user = session.get(User, user_id)
        return (
            user is not None
            and bool(user.active)
            and user.api_token_hash == token_hash
            and user.api_token_expires_at is not None
            and user.api_token_expires_at > utcnow()
        )

    return check


def load_user_from_request(_request: Request) -> Staff | None:
    """The user an `Authorization: Bearer <token>` header names, if valid and unexpired."""
    token = bearer_token()
    if token is None:
        return None
    user = db.session.scalar(select(User).where(User.api_token_hash == hash_api_token(token)))
    if user is None or not user.active:
        return None
    if user.api_token_expires_at is None or user.api_token_expires_at <= utcnow():
        return None
    return Staff(user)


def init_login(app: Flask) -> None:
    """Bind Flask-Login: where to send visitors and how to find the user."""
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = _l("Please sign in to open this page.")
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    login_manager.user_loader(load_user)
    login_manager.request_loader(load_user_from_request)
