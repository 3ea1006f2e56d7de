"""Error pages (HTML for the site, JSON for the API) and a rollback after a crash."""

from __future__ import annotations

from typing import TypeVar

from flask import Flask, current_app, make_response, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from webadmin.extensions import db
from webadmin.json_error import json_error
from webadmin.permissions import wants_json

#: Flask's or Werkzeug's response, given back as it came.
AnyResponse = TypeVar("AnyResponse", bound=Response)


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood"),
        403: _("You do not have access to this page"),
        404: _("Not found"),
        405: _("This action is not allowed here"),
        415: _("This page cannot read what was sent"),
        429: _("Too many attempts"),
        500: _("Something went wrong on our side"),
        503: _("This took too long"),
    }


def _render(status: int, message: str | None) -> ResponseReturnValue:
    if wants_json():
        return json_error(status, message or _titles().get(status, ""))
    title = _titles().get(status, _("Error"))
    return render_template("errors/error.html", status=status, title=title, message=message), status


def _http_error(error: HTTPException) -> ResponseReturnValue:
    if error.response is not None:  # a view already built the answer (e.g. JSON 403)
        return error.response
    status = error.code or 500
    # Werkzeug's stock descriptions are English boilerplate; show only our own messages.
    message = error.description if error.description != type(error).description else None
    return with_allow(make_response(_render(status, message)), error)


def with_allow(response: AnyResponse, error: HTTPException) -> AnyResponse:
    """A 405 names the methods the address does take (RFC 9110, 15.5.6), HTML or JSON."""
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(error.valid_methods))
    return response


def is_statement_timeout(error: BaseException) -> bool:
    """True when PostgreSQL cancelled a statement that ran past STATEMENT_TIMEOUT_MS."""
    return getattr(getattr(error, "orig", None), "pgcode", None) == "57014"  # query_canceled


def timeout_message() -> str:
    """What a person can do when a page took too long."""
    seconds = int(current_app.config["STATEMENT_TIMEOUT_MS"]) // 1000
    return _(
        "The database stopped this request after %(seconds)d seconds. Choose a shorter "
        "period or narrower filters and try again.",
        seconds=seconds,
    )


def _database_error(error: OperationalError) -> ResponseReturnValue:
    db.session.rollback()
    if not is_statement_timeout(error):
        raise error
    return _render(503, timeout_message())


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return _render(
        400, _("The form has expired or was sent from elsewhere. Reload the page and try again.")
    )


def _server_error(error: Exception) -> ResponseReturnValue:
    # The failed request may have left the session mid-transaction.
    db.session.rollback()
    return _render(500, None)


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(OperationalError, _database_error)
    app.register_error_handler(500, _server_error)
