"""How a request is tied to a member of staff: the session cookie or an API bearer token."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import Flask, Request
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from models import User, utcnow
from webadmin.extensions import db, login_manager
from webadmin.security import bearer_token
from webadmin.staff import Staff, session_fingerprint


def hash_api_token(token: str) -> str:
    """The digest stored in `User.api_token_hash` (the token itself is never stored)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(user: User, valid_for: timedelta = timedelta(days=90)) -> str:
    """Give the user a new API token (replacing the old one) and return it, to show once."""
    token = secrets.token_urlsafe(32)
    user.api_token_hash = hash_api_token(token)
    user.api_token_expires_at = utcnow() + valid_for
    return token


def load_user(user_id: str) -> Staff | None:
    """The session's user, if still active and their password unchanged since sign-in."""
    raw_id, _, fingerprint = user_id.partition(":")
    if not raw_id.isdigit():
        return None
    user = db.session.get(User, int(raw_id))
    if user is None or not user.active or fingerprint != session_fingerprint(user):
        return None
    return Staff(user)


def load_user_from_request(request: Request) -> Staff | None:
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
