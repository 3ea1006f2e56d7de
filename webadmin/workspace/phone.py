"""The browser phone's settings for the signed-in operator's page: socket, ICE, SIP password.

The password is derived (pbx.endpoints_conf.browser_phone_password), never stored: it is
given only to a cookie session of the operator themself, as a no-store JSON answer, and
only while it still matches the digest Asterisk holds.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, jsonify
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from callcards.config import Settings
from models import PhoneType
from pbx.endpoints_conf import browser_phone_password, password_digest
from webadmin.auth.identity import presents_bearer
from webadmin.callflow.draft import site_settings
from webadmin.json_error import json_error
from webadmin.permissions import require

bp = Blueprint("phone", __name__)


def phone_socket_url(settings: Settings) -> str | None:
    """Asterisk's SIP WebSocket URL if it may be used: wss://, or ws:// to a loopback host."""
    url = settings.phone_wss_url
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "wss" and parts.hostname:
        return url
    if parts.scheme == "ws" and parts.hostname and _is_loopback(parts.hostname):
        # Plain WS carries the SIP digest exchange in clear: only where nothing leaves the host.
        return url
    return None


def phone_socket_origin(settings: Settings) -> str | None:
    """The socket's origin for the CSP's connect-src (scheme://host[:port]), or None."""
    url = phone_socket_url(settings)
    if url is None:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _ice_servers(settings: Settings) -> list[dict[str, Any]]:
    servers: list[dict[str, Any]] = []
    for url in settings.phone_ice_servers:
        server: dict[str, Any] = {"urls": url}
        if url.startswith("turn") and settings.phone_turn_username:
            server.update(
                username=settings.phone_turn_username, credential=settings.phone_turn_password
            )
        servers.append(server)
    return servers


@bp.get("/workspace/phone")
@require("workspace.use", api=True)
def credentials() -> Response:
    """The operator's browser phone: where to register and with what; 409 when it can't."""
    if presents_bearer():
        # An API token is for scripts; the phone's secret is for the operator's own page.
        return json_error(
            403,
            _("The browser phone is given only to a signed-in page."),
            code="phone_needs_session",
        )
    settings = site_settings()
    socket_url = phone_socket_url(settings)
    user = current_user
    if user.phone_type != PhoneType.WEBRTC.value or not user.extension:
        return json_error(
            409, _("Your phone is a desk phone, not this browser."), code="phone_not_browser"
        )
    if socket_url is None:
        return json_error(
            409,
            _("The browser phone is not set up on this site: ask your administrator."),
            code="phone_not_configured",
        )
    password = browser_phone_password(settings.secret_key, user.id, user.phone_generation)
    if user.sip_password_digest != password_digest(user.extension, password):
        # No password yet, a desk phone's one, or SECRET_KEY changed since it was made.
        return json_error(
            409,
            _(
                "Your browser phone has no valid password: ask your "
                "administrator to make a new phone password."
            ),
            code="phone_password_missing",
        )
    return jsonify(
        extension=user.extension,
        password=password,
        socket=socket_url,
        ice_servers=_ice_servers(settings),
        generation=user.phone_generation,
    )


def phone_words() -> dict[str, str]:
    """Every word the phone's script shows, in the operator's language (it has no gettext)."""
    return {
        "starting": _("Starting the phone: allow the microphone if the browser asks."),
        "registering": _("Connecting the phone…"),
        "reconnecting": _("The phone lost its connection: reconnecting…"),
        "ready": _("Phone ready: extension %(ext)s."),
        "ringing": _("Incoming call: %(peer)s"),
        "calling": _("Calling %(peer)s…"),
        "in_call": _("In a call with %(peer)s"),
        "held": _("The caller is on hold."),
        "consulting": _("The caller is on hold; talking to %(peer)s."),
        "transferring": _("Transferring the call to %(peer)s…"),
        "transferring_attended": _("Joining the caller to your colleague…"),
        "transfer_failed": _("The transfer did not go through: the caller is still with you."),
        "call_failed": _("The call did not go through: %(reason)s."),
        "wrong_password": _(
            "Asterisk refused the phone's password: reload the page; if it "
            "happens again, ask your administrator for a new phone password."
        ),
        "elsewhere": _(
            "Your phone is already open in another browser or tab: close it there "
            "and reload this page."
        ),
        "mic_failed": _(
            "The microphone is not available (%(reason)s): the phone stays off. "
            "Allow the microphone for this site and reload the page."
        ),
        "signed_out": _("You are signed out: the phone is off."),
        "unavailable": _("The browser phone is not available now."),
        "hold": _("Hold"),
        "resume": _("Resume"),
        "mute": _("Mute"),
        "unmute": _("Unmute"),
    }
