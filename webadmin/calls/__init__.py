"""The calls list, "my calls", the card page and completing a card."""

from __future__ import annotations

from webadmin.calls.routes import bp

__all__ = ["bp"]
