"""The user's own page: create a personal API token (shown once) or revoke it."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from models import AuditEntry, utcnow
from webadmin.auth.identity import issue_api_token
from webadmin.extensions import db
from webadmin.inputs import whole_number
from webadmin.permissions import signed_in

bp = Blueprint("account", __name__, url_prefix="/account")

#: How long a new token may live, in days; the first is the default.
VALIDITY_DAYS = (90, 30, 365)


def _page(token: str | None = None) -> str:
    account = current_user.account
    expires = account.api_token_expires_at
    has_token = account.api_token_hash is not None
    return render_template(
        "account/index.html",
        token=token,
        has_token=has_token,
        expires_at=expires,
        expired=bool(expires and expires <= utcnow()),
        validity_days=VALIDITY_DAYS,
    )


def _audit(action: str) -> None:
    db.session.add(
        AuditEntry(
            user_id=current_user.id, action=action, remote_addr=request.remote_addr, detail={}
        )
    )


@bp.get("")
@signed_in
def index() -> str:
    """Who the user is and the state of their API token."""
    return _page()


@bp.post("/token")
@signed_in
def create_token() -> str:
    """Issue a new token (replacing any old one) and show it this once."""
    raw = request.form.get("days", "")
    days = whole_number(raw, 1, max(VALIDITY_DAYS))
    days = days if days in VALIDITY_DAYS else VALIDITY_DAYS[0]
    token = issue_api_token(current_user.account, timedelta(days=days))
    _audit("api_token.create")
    db.session.commit()
    # Rendered, not redirected: a flash would keep the token in the session cookie.
    return _page(token)


@bp.post("/token/revoke")
@signed_in
def revoke_token() -> Response:
    """Forget the token: requests carrying it are refused from now on."""
    account = current_user.account
    account.api_token_hash = None
    account.api_token_expires_at = None
    _audit("api_token.revoke")
    db.session.commit()
    flash(_("The API token is revoked."), "success")
    return redirect(url_for("account.index"))
