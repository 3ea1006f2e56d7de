"""The JSON API under /api: cards, recordings, dictionaries, the CSV export, its OpenAPI document.

The routes are listed here in one table, so the API's surface reads at a glance; the
OpenAPI document (openapi.py) describes the same table and a test holds them together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint

from webadmin.api import calls, dictionaries, errors, export, openapi
from webadmin.recordings.routes import recording

bp = Blueprint("api", __name__, url_prefix="/api")
errors.init_blueprint(bp)

#: (rule, endpoint, view, methods)
ROUTES: list[tuple[str, str, Callable[..., Any], list[str]]] = [
    ("/calls", "list_calls", calls.list_calls, ["GET"]),
    ("/calls", "create_call", calls.create_call, ["POST"]),
    ("/calls/<int:call_id>", "get_call", calls.get_call, ["GET"]),
    ("/calls/<int:call_id>", "complete_call", calls.complete_call, ["PUT"]),
    # The site's own streamer: the same Range support, download rule and audit trail.
    ("/calls/<int:call_id>/recording", "call_recording", recording, ["GET"]),
    (
        "/dictionaries/<any(purposes, categories, subcategories, tags):kind>",
        "dictionary",
        dictionaries.dictionary,
        ["GET"],
    ),
    ("/export/calls.csv", "export_calls", export.export_calls, ["GET"]),
    ("/openapi.json", "openapi", openapi.openapi, ["GET"]),
]
for rule, endpoint, view, methods in ROUTES:
    bp.add_url_rule(rule, endpoint, view, methods=methods)

__all__ = ["bp"]
