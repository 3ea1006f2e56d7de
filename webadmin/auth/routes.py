"""Sign in, sign out, and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import User
from webadmin.auth import lockout
from webadmin.auth.forms import LoginForm
from webadmin.auth.identity import end_session, start_session
from webadmin.extensions import db
from webadmin.i18n import LANGUAGES
from webadmin.permissions import signed_in

bp = Blueprint("auth", __name__)


def safe_next(target: str | None) -> str | None:
    """A local path to return to after sign-in, or None for anything that could leave the site."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(char) < 32 for char in target):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Show the sign-in form; on a valid password start the session."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("workspace.index"))
    form = LoginForm(next=request.args.get("next", ""))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form)
    if lockout.address_is_blocked():
        return render_template(
            "auth/login.html",
            form=form,
            error=_("Too many failed attempts from this computer. Wait a few minutes."),
        ), 429
    login_name = form.login.data.strip()
    user = db.session.scalar(select(User).where(User.login == login_name))
    password = form.password.data
    # The hash is checked in every case, so a locked or unknown login takes as long as a
    # known one; a locked account then answers exactly like a wrong password.
    matches = (
        user.check_password(password) if user is not None else lockout.spend_hash_time(password)
    )
    locked = user is not None and lockout.is_locked(user)
    if user is None or locked or not matches:
        lockout.record_failure(None if locked else user, login_name)
        db.session.commit()
        return render_template(
            "auth/login.html", form=form, error=_("Wrong login or password.")
        ), 401
    if not user.active:
        return render_template(
            "auth/login.html", form=form, error=_("This account is deactivated.")
        ), 403
    lockout.record_success(user)
    session.clear()  # a fresh session on sign-in (no fixation); the user's own language applies
    login_user(start_session(user))
    db.session.commit()
    return redirect(safe_next(form.next.data) or url_for("workspace.index"))


@bp.post("/logout")
@signed_in
def logout() -> Response:
    """End the session on the server too: a copy of the cookie opens nothing afterwards."""
    end_session(current_user._get_current_object())
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.post("/locale")
def set_locale() -> Response:
    """Switch the language: stored on the user, or in the session for a visitor."""
    code = request.form.get("locale", "")
    if code in LANGUAGES:
        session["locale"] = code
        if current_user.is_authenticated:
            current_user.locale = code
            db.session.commit()
    back = request.referrer or ""
    parts = urlsplit(back)
    same_site = parts.netloc == request.host and parts.scheme in {"http", "https"}
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    target = safe_next(path) if same_site else None
    return redirect(target or url_for("workspace.index"))
