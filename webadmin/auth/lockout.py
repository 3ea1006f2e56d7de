"""Slowing down password guessing: per login (the account locks) and per address."""

from __future__ import annotations

import secrets
from datetime import timedelta
from functools import cache

from flask import current_app, request
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from models import AuditEntry, User, utcnow
from webadmin.extensions import db

FAILED_LOGIN = "auth.login_failed"


def is_locked(user: User) -> bool:
    """True while the account is locked after too many wrong passwords."""
    return user.locked_until is not None and user.locked_until > utcnow()


def address_is_blocked() -> bool:
    """True when this address failed too often recently, whatever logins it tried."""
    since = utcnow() - timedelta(seconds=current_app.config["LOGIN_LOCK_SECONDS"])
    failures = db.session.scalar(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.action == FAILED_LOGIN,
            AuditEntry.remote_addr == request.remote_addr,
            AuditEntry.at > since,
        )
    )
    return (failures or 0) >= current_app.config["LOGIN_IP_FAILURES"]


def record_failure(user: User | None, login: str) -> None:
    """Count a wrong password; the account locks after the configured number in a row.

    `user` is None for an unknown login and for a locked account, whose lock is not extended.
    """
    if user is not None:
        user.failed_logins = (user.failed_logins or 0) + 1
        if user.failed_logins >= current_app.config["LOGIN_LOCK_FAILURES"]:
            seconds = current_app.config["LOGIN_LOCK_SECONDS"]
            user.locked_until = utcnow() + timedelta(seconds=seconds)
            user.failed_logins = 0
    db.session.add(
        AuditEntry(
            user_id=user.id if user is not None else None,
            action=FAILED_LOGIN,
            remote_addr=request.remote_addr,
            detail={"login": login[:64]},
        )
    )


def record_success(user: User) -> None:
    """Clear the failure count and note the sign-in."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = utcnow()


@cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(16), method="scrypt")


def spend_hash_time(password: str) -> bool:
    """Check a password against nothing, so unknown logins take as long as known ones; False."""
    check_password_hash(_dummy_hash(), password)
    return False
