"""The WSGI entry point: `gunicorn webadmin.wsgi:app` (after `callcards db upgrade`)."""

from __future__ import annotations

from webadmin.production import production_app

app = production_app()
