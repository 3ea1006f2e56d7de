"""Error pages (HTML for the site, JSON for the API) and a rollback after a crash."""

from __future__ import annotations

from flask import Flask, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from webadmin.extensions import db
from webadmin.json_error import json_error
from webadmin.permissions import wants_json


def _titles() -> dict[int, str]:
    return {
        400: _("The request could not be understood"),
        403: _("You do not have access to this page"),
        404: _("Not found"),
        405: _("This action is not allowed here"),
        429: _("Too many attempts"),
        500: _("Something went wrong on our side"),
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
    return _render(status, message)


def _csrf_error(error: CSRFError) -> ResponseReturnValue:
    return _render(400, _("The form has expired or was sent from elsewhere. "
                          "Reload the page and try again."))


def _server_error(error: Exception) -> ResponseReturnValue:
    # The failed request may have left the session mid-transaction.
    db.session.rollback()
    return _render(500, None)


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(500, _server_error)
