"""The production start: the site built from the environment, refusing a default secret key."""

from __future__ import annotations

import os

from flask import Flask

from callcards.config import DEVELOPMENT_SECRET_KEY, Settings, load_settings
from webadmin import create_app

_TRUE = {"1", "true", "yes", "on"}


class InsecureSecretKey(RuntimeError):
    """The production start found the development secret key."""


def production_app(settings: Settings | None = None,
                   environ: dict[str, str] | None = None) -> Flask:
    """The site for gunicorn; refuses the default SECRET_KEY unless in development mode."""
    env = dict(os.environ) if environ is None else environ
    settings = settings or load_settings(env)
    development = any(env.get(name, "").lower() in _TRUE
                      for name in ("FLASK_DEBUG", "CALLCARDS_DEVELOPMENT"))
    if settings.secret_key == DEVELOPMENT_SECRET_KEY and not development:
        # Anyone who knows the default key can forge a session cookie for any account.
        raise InsecureSecretKey("refusing to start: set SECRET_KEY (or CALLCARDS_DEVELOPMENT=1)")
    return create_app(settings)

