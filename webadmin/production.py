"""The production start: the site built from the environment, refusing a default secret key."""

from __future__ import annotations

from dataclasses import replace

from flask import Flask

from callcards.config import DEVELOPMENT_SECRET_KEY, Settings, load_settings
from webadmin import create_app


class InsecureSecretKey(RuntimeError):
    """The production start found the development secret key."""


def production_app(
    settings: Settings | None = None, environ: dict[str, str] | None = None
) -> Flask:
    """The site for gunicorn; refuses the default SECRET_KEY unless in development mode."""
    if settings is None or environ is not None:
        # The development switch is a setting too (CALLCARDS_DEVELOPMENT, FLASK_DEBUG).
        read = load_settings(environ)
        settings = replace(settings, development=read.development) if settings else read
    if settings.secret_key == DEVELOPMENT_SECRET_KEY and not settings.development:
        # Anyone who knows the default key can forge a session cookie for any account.
        raise InsecureSecretKey("refusing to start: set SECRET_KEY (or CALLCARDS_DEVELOPMENT=1)")
    return create_app(settings)
