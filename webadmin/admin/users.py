"""Staff accounts: create, role, extension, phone, queues, deactivate, reset password."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from models import AuditEntry, PhoneType, QueueMember, Role, User
from models.routing import Queue
from webadmin.admin.forms import PasswordForm, PhonePasswordForm, UserForm
from webadmin.admin.phones import apply_phones, flash_applied, new_phone_password, phone_setup
from webadmin.auth.identity import start_session
from webadmin.extensions import db
from webadmin.permissions import require


def _queues() -> list[Queue]:
    return list(db.session.scalars(select(Queue).order_by(Queue.name)))


def _user_form(user: User | None, *, submitted: bool) -> UserForm:
    """The user form, from the request when `submitted`, else from the account."""
    form = UserForm() if submitted or user is None else UserForm(formdata=None, obj=user)
    choices = [SelectChoice(str(queue.id), f"{queue.title} ({queue.name})") for queue in _queues()]
    form.served_queues.choices = choices
    form.overseen_queues.choices = choices
    if user is not None and not submitted:
        form.served_queues.data = [queue.id for queue in user.served_queues]
        form.overseen_queues.data = [queue.id for queue in user.supervised_queues]
    return form


def _taken(form: UserForm, user: User | None) -> bool:
    """Add a message next to a login or extension someone else already has."""
    own_id = user.id if user is not None else -1
    taken = False
    if db.session.scalar(select(User.id).where(User.login == form.login.data, User.id != own_id)):
        form.login.errors.append(_("Another user has this login."))
        taken = True
    if form.extension.data and db.session.scalar(
        select(User.id).where(User.extension == form.extension.data, User.id != own_id)
    ):
        form.extension.errors.append(_("Another user has this extension."))
        taken = True
    return taken


def _apply(form: UserForm, user: User) -> None:
    user.login = form.login.data.strip()
    user.name = form.name.data.strip()
    user.role = form.role.data
    extension = form.extension.data or None
    if user.extension != extension and user.sip_password_digest is not None:
        # The digest covers the extension (the SIP user name): the old one is worthless.
        user.sip_password_digest = user.sip_password_set_at = None
        flash(_("The extension changed: make a new phone password for the phone."), "warning")
    user.extension = extension
    user.phone_type = form.phone_type.data
    user.locale = form.locale.data
    user.active = bool(form.active.data)
    queues = {queue.id: queue for queue in _queues()}
    served = set(form.served_queues.data or [])
    user.memberships = [m for m in user.memberships if m.queue_id in served] + [
        QueueMember(queue=queues[queue_id], penalty=0)
        for queue_id in sorted(served)
        if queue_id not in {m.queue_id for m in user.memberships}
    ]
    user.supervised_queues = [queues[queue_id] for queue_id in form.overseen_queues.data or []]


def _audit(user: User, action: str, detail: dict[str, object]) -> None:
    db.session.add(
        AuditEntry(
            user_id=current_user.id,
            action=action,
            remote_addr=request.remote_addr,
            detail={"user": user.id, "login": user.login, **detail},
        )
    )


@require("admin.users")
def index() -> str:
    """Every account with its role, extension, queues and state."""
    users = list(
        db.session.scalars(select(User).order_by(User.active.desc(), User.role, User.login))
    )
    return render_template("admin/users.html", users=users)


@require("admin.users")
def create() -> str | Response | tuple[str, int]:
    """A new account; its first password is set here."""
    form = _user_form(None, submitted=True)
    if form.validate_on_submit() and not form.password.data:
        form.password.errors.append(_("Set a first password."))
    elif form.validate_on_submit() and not _taken(form, None):
        user = User(password_hash="")
        _apply(form, user)
        user.set_password(form.password.data)
        db.session.add(user)
        db.session.flush()
        _audit(user, "user.change", {"change": "create", "role": user.role})
        db.session.commit()
        flash(_("The account %(login)s is created.", login=user.login), "success")
        if user.extension:
            return redirect(url_for("admin.user_edit", user_id=user.id, _anchor="phone"))
        return redirect(url_for("admin.users"))
    status = 400 if request.method == "POST" else 200
    return render_template("admin/user_form.html", form=form, user=None), status


@require("admin.users")
def edit(user_id: int) -> str | Response | tuple[str, int]:
    """Change an account's role, extension, queues, language or state."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = _user_form(user, submitted=request.method == "POST")
    if form.validate_on_submit() and not _taken(form, user):
        demoted = form.role.data != Role.ADMIN.value or not form.active.data
        if user.id == current_user.id and demoted:
            # An administrator who demotes or deactivates themselves could lock everyone out.
            form.role.errors.append(_("You cannot take away your own administrator access."))
        else:
            before = {"role": user.role, "active": user.active, "extension": user.extension}
            phone_before, had_phone = phone_setup(user), user.sip_password_digest is not None
            _apply(form, user)
            _audit(
                user,
                "user.change",
                {"change": "edit", "before": before, "role": user.role, "active": user.active},
            )
            db.session.commit()
            flash(_("The account %(login)s is saved.", login=user.login), "success")
            if phone_setup(user) != phone_before and (had_phone or user.sip_password_digest):
                flash_applied(apply_phones())
            return redirect(url_for("admin.users"))
    status = 400 if request.method == "POST" else 200
    return _user_page(user, form, status=status)


def _user_page(
    user: User,
    form: UserForm,
    *,
    status: int = 200,
    password_form: PasswordForm | None = None,
    phone_form: PhonePasswordForm | None = None,
    **extra: object,
) -> tuple[str, int]:
    """An account's page: its form, the password reset and the phone."""
    return render_template(
        "admin/user_form.html",
        form=form,
        user=user,
        password_form=password_form or PasswordForm(formdata=None),
        phone_form=phone_form or PhonePasswordForm(formdata=None),
        **extra,
    ), status


@require("admin.users")
def reset_password(user_id: int) -> str | Response | tuple[str, int]:
    """Set a new password; the user's open sessions end and a lock is lifted."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    password_form = PasswordForm()
    if not password_form.validate_on_submit():
        return _user_page(
            user, _user_form(user, submitted=False), status=400, password_form=password_form
        )
    user.set_password(password_form.password.data)
    user.failed_logins = 0
    user.locked_until = None
    _audit(user, "user.password", {})
    db.session.commit()
    if user.id == current_user.id:
        # The new password ended every session of the user; this browser gets a fresh one.
        login_user(start_session(user))
        db.session.commit()
    flash(_("The password of %(login)s is changed.", login=user.login), "success")
    return redirect(url_for("admin.users"))


@require("admin.users")
def phone_password(user_id: int) -> Response | tuple[str, int]:
    """Make a new phone password, show it once, and send the phones to Asterisk."""
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    phone_form = PhonePasswordForm()
    form = _user_form(user, submitted=False)
    if not phone_form.validate_on_submit():
        return _user_page(user, form, status=400, phone_form=phone_form)
    if not user.extension:
        phone_form.form_errors.append(
            _("Give the user an extension first: the phone is named after it.")
        )
        return _user_page(user, form, status=400, phone_form=phone_form)
    password = new_phone_password(user)
    _audit(user, "user.phone_password", {"extension": user.extension})
    db.session.commit()
    applied = apply_phones()
    # A browser phone's password goes to the operator's own signed-in page, never to a person.
    browser = user.phone_type == PhoneType.WEBRTC.value
    page, _status = _user_page(
        user,
        form,
        phone_password=None if browser else password,
        browser_phone_renewed=browser,
        applied=applied,
    )
    # The password is on this page only: never kept by the browser's cache or a proxy.
    return Response(page, headers={"Cache-Control": "no-store"}, mimetype="text/html")
