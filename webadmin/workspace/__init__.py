"""The operator's workspace: the card of the call on their phone pops up by itself."""

from __future__ import annotations

from webadmin.workspace.routes import bp

__all__ = ["bp"]
