"""The sandbox's one exception."""

from __future__ import annotations


class SandboxError(RuntimeError):
    """The sandbox cannot do what was asked; the message says what to do."""
