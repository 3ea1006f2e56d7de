"""The API's one error shape: `{"error": {"code": ..., "message": ..., "fields": {...}}}`."""

from __future__ import annotations

from flask import Blueprint, Response
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from webadmin.errors import is_statement_timeout, timeout_message, with_allow
from webadmin.extensions import db
from webadmin.json_error import json_error

#: The API's errors are the site's JSON errors (one shape everywhere).
api_error = json_error


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
    return with_allow(api_error(error.code or 500, _message(error)), error)


def _database_error(error: OperationalError) -> Response:
    db.session.rollback()
    if not is_statement_timeout(error):
        raise error
    return api_error(503, timeout_message())


def _csrf_error(error: CSRFError) -> Response:
    return api_error(
        400,
        _(
            "A request signed in by the session cookie must carry the CSRF "
            "token in the X-CSRFToken header (or use an API token)."
        ),
        code="csrf_missing",
    )


def _server_error(error: InternalServerError) -> Response:
    # The failed request may have left the session mid-transaction.
    db.session.rollback()
    return api_error(500, _("Something went wrong on our side"))


def init_blueprint(bp: Blueprint) -> None:
    """Answer every error under the blueprint in the API's shape."""
    bp.register_error_handler(CSRFError, _csrf_error)
    bp.register_error_handler(InternalServerError, _server_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(OperationalError, _database_error)
