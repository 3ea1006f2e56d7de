"""The signed-in member of staff as Flask-Login sees them: a thin wrapper around `models.User`."""

from __future__ import annotations

import hashlib
from typing import Any

from flask_login import UserMixin

from models import User


def session_fingerprint(user: User) -> str:
    """A short digest of the password hash: changing the password ends every old session."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


class Staff(UserMixin):
    """Flask-Login's user: reads fall through to the `User` row it wraps (`staff.account`)."""

    def __init__(self, account: User) -> None:
        object.__setattr__(self, "account", account)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.account, name, value)

    @property
    def is_active(self) -> bool:
        return bool(self.account.active)

    def get_id(self) -> str:
        # The fingerprint makes a password reset sign the user out everywhere.
        return f"{self.account.id}:{session_fingerprint(self.account)}"

    def __repr__(self) -> str:
        return f"<Staff {self.account.login} {self.account.role}>"
