"""The signed-in member of staff as Flask-Login sees them: a thin wrapper around `models.User`."""

from __future__ import annotations

from typing import Any

from flask_login import UserMixin

from models import User


class Staff(UserMixin):
    """Flask-Login's user: reads fall through to the `User` row it wraps (`staff.account`)."""

    def __init__(self, account: User, session_key: str | None = None) -> None:
        object.__setattr__(self, "account", account)
        # The key of this browser's `StaffSession` row; None when a bearer token signed in.
        object.__setattr__(self, "session_key", session_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.account, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.account, name, value)

    @property
    def is_active(self) -> bool:
        return bool(self.account.active)

    def get_id(self) -> str:
        # What the cookie holds: the session row's key ends the session when the row goes.
        return f"{self.account.id}:{self.session_key or ''}"

    def __repr__(self) -> str:
        return f"<Staff {self.account.login} {self.account.role}>"
