"""Operators' phones: their passwords' digests, and sending the phones to Asterisk.

A phone password is made by the site (never chosen by hand, so never weak), shown once to
the admin who hands it to the operator, and stored only as pjsip's digest (pbx.endpoints_conf).
A browser phone's password is derived from SECRET_KEY and the user's phone generation, so the
workspace can give it to the operator's own page (webadmin.workspace.phone).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from flask import flash
from flask_babel import gettext as _

from models import PhoneType, User
from pbx.endpoints_conf import browser_phone_password, password_digest
from webadmin.callflow.apply import Applied, run_apply
from webadmin.callflow.draft import site_settings

#: Random bytes in a new phone password (16 characters): no guessing over the network.
PHONE_PASSWORD_BYTES = 12


def apply_phones() -> Applied:
    """Ask Asterisk to take the operators' phones as the users say; never raises."""
    return run_apply(lambda pbx, session: pbx.apply_phones(session))


def flash_applied(applied: Applied) -> None:
    """Tell the admin whether Asterisk took the phones."""
    if not applied.attempted:
        return
    if applied.ok:
        flash(_("Asterisk took the operators' phones."), "success")
    else:
        flash(
            _("Asterisk did not take the operators' phones: %(error)s", error=applied.error),
            "error",
        )


def new_phone_password(user: User) -> str:
    """A new phone password for the user's extension; only its digest is kept."""
    user.phone_generation = (user.phone_generation or 0) + 1
    if user.phone_type == PhoneType.WEBRTC.value:
        password = browser_phone_password(
            site_settings().secret_key, user.id, user.phone_generation
        )
    else:
        password = secrets.token_urlsafe(PHONE_PASSWORD_BYTES)
    user.sip_password_digest = password_digest(user.extension or "", password)
    user.sip_password_set_at = datetime.now(UTC)
    return password


def phone_setup(user: User) -> tuple[object, ...]:
    """What the user's phone endpoint depends on: a change means Asterisk must be told."""
    return (user.active, user.extension, user.name, user.phone_type, user.sip_password_digest)
