"""Response headers, CSRF and token policy that every page and API response shares."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, abort, current_app, request
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from webadmin.auth.identity import presents_bearer
from webadmin.extensions import csrf
from webadmin.json_error import json_error
from webadmin.permissions import wants_json

#: Only our own scripts, styles and media; nothing may frame the site. {connect} is 'self'
#: plus the browser phone's WebSocket origin when one is set (CALLCARDS_PHONE_WSS_URL).
CONTENT_SECURITY_POLICY_TEMPLATE = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src {connect}",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY_TEMPLATE.format(connect="'self'")


def content_security_policy(app: Flask) -> str:
    """The site's CSP: connect-src allows exactly the phone's socket origin besides 'self'."""
    from webadmin.workspace.phone import phone_socket_origin

    settings = app.config.get("CALLCARDS_SETTINGS")
    origin = phone_socket_origin(settings) if settings is not None else None
    return CONTENT_SECURITY_POLICY_TEMPLATE.format(
        connect="'self'" if origin is None else f"'self' {origin}"
    )


def _authenticate_or_protect() -> ResponseReturnValue | None:
    """Token-authenticated requests need a valid token; cookie-authenticated ones a CSRF token."""
    if request.endpoint == "metrics":
        return None  # its own guard: an allowlist or its own token (webadmin/live/metrics.py)
    if presents_bearer():
        # The cookie is ignored here (identity.load_user), so a bad token means no user at all.
        if not current_user.is_authenticated:
            response = json_error(401, _("The API token is not valid or has expired."))
            response.headers["WWW-Authenticate"] = 'Bearer realm="callcards", error="invalid_token"'
            return response
        # No cookie is used, so there is nothing a third-party page could ride on.
        return None
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect(apply_exemptions=True)
    return None


def _headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", current_app.config["CONTENT_SECURITY_POLICY"])
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if _may_carry_personal_data(response):
        # Pages and answers show personal data; a shared PC's back button or a proxy must not
        # replay them. Set, not defaulted: send_file's "no-cache" would still store a recording.
        headers["Cache-Control"] = "no-store"
    return response


def _may_carry_personal_data(response: Response) -> bool:
    """Every page, and every answer to a signed-in user except the site's own static files."""
    if request.endpoint == "static":
        return False
    return response.mimetype == "text/html" or bool(current_user.is_authenticated)


def _contains_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_contains_nul(key) or _contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_contains_nul(item) for item in value)
    return False


def _refuse_nul_characters() -> ResponseReturnValue | None:
    """A NUL in any input is refused with a clear 400: PostgreSQL cannot store one."""
    values: list[Any] = [*request.args.values(), *request.form.values()]
    if request.is_json:
        values.append(request.get_json(silent=True))
    if any(_contains_nul(value) for value in values):
        message = _("The request holds a NUL character, which no field accepts.")
        if wants_json():
            return json_error(400, message, code="nul_character")
        abort(400, description=message)
    return None


def init_app(app: Flask) -> None:
    """Check CSRF on every unsafe request ourselves and add the security headers."""
    # Our hook replaces Flask-WTF's default one so token-authenticated API calls skip it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["CONTENT_SECURITY_POLICY"] = content_security_policy(app)
    app.before_request(_refuse_nul_characters)
    app.before_request(_authenticate_or_protect)
    app.after_request(_headers)
