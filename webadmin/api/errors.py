"""The API's one error shape: `{"error": {"code": ..., "message": ..., "fields": {...}}}`."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError, MethodNotAllowed

from webadmin.extensions import db

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "too_large", 415: "unsupported_media_type",
    422: "invalid", 429: "too_many_requests", 500: "server_error",
}


def api_error(status: int, message: str, *, code: str | None = None,
              fields: dict[str, list[str]] | None = None) -> Response:
    """A JSON error response; `fields` names each bad input with its messages."""
    error: dict[str, Any] = {"code": code or CODES.get(status, "error"), "message": message}
    if fields:
        error["fields"] = fields
    response = jsonify(error=error)
    response.status_code = status
    return response


def _message(error: HTTPException) -> str:
    # Werkzeug's stock descriptions are English boilerplate; keep only our own words.
    if error.description and error.description != type(error).description:
        return str(error.description)
    return {
        400: _("The request could not be understood."),
        401: _("Please sign in to open this page."),
        404: _("Not found."),
        405: _("This action is not allowed here."),
    }.get(error.code or 500, error.name)


def _http_error(error: HTTPException) -> Response:
    response = api_error(error.code or 500, _message(error))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _nest_flat_error(response: Response) -> Response:
    """Give permissions.refuse's and visible_call's `{"error": "forbidden", "message": ...}`
    the API's shape; they answer through `abort(response)`, which no error handler sees."""
    if response.status_code < 400 or not response.is_json:
        return response
    body = response.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return response
    flat = body["error"]
    code = CODES.get(response.status_code, "error") if flat.isdigit() else flat
    message = str(body.get("message") or "")
    response.set_data(json.dumps({"error": {"code": code, "message": message}},
                                 ensure_ascii=False))
    return response


def _csrf_error(error: CSRFError) -> Response:
    return api_error(400, _("A request signed in by the session cookie must carry the CSRF "
                            "token in the X-CSRFToken header (or use an API token)."),
                     code="csrf_missing")


def _server_error(error: InternalServerError) -> Response:
    # The failed request may have left the session mid-transaction.
    db.session.rollback()
    return api_error(500, _("Something went wrong on our side"))


def init_blueprint(bp: Blueprint) -> None:
    """Answer every error under the blueprint in the API's shape."""
    bp.register_error_handler(CSRFError, _csrf_error)
    bp.register_error_handler(InternalServerError, _server_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.after_request(_nest_flat_error)
