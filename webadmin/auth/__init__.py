"""Signing in and out, API tokens, the language switch."""

from __future__ import annotations

from webadmin.auth.routes import bp

__all__ = ["bp"]
