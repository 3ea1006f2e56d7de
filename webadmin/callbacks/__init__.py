"""Callback tasks: the operators' list of lost callers, taking one, calling back, outcomes."""

from __future__ import annotations

from webadmin.callbacks.routes import bp

__all__ = ["bp"]
