"""A member of staff's own page: their personal API token."""

from __future__ import annotations

from webadmin.account.routes import bp

__all__ = ["bp"]
