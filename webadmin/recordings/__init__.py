"""Listening to and downloading call recordings."""

from __future__ import annotations

from webadmin.recordings.routes import bp

__all__ = ["bp"]
