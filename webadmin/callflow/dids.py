"""DIDs: each dialled number, where its calls enter, its campaign, city and hours."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from dialplan.dids import number_digits, same_number
from dialplan.settings import ENTRY_KINDS
from models.routing import Did, Schedule
from webadmin.callflow.actions import action_choices, action_from, action_value, draft_targets
from webadmin.callflow.audit import note_change
from webadmin.callflow.forms import ConfirmForm, DidForm
from webadmin.extensions import db
from webadmin.permissions import require


def _did(did_id: int) -> Did:
    did = db.session.get(Did, did_id)
    if did is None:
        abort(404)
    return did


def _form(did: Did | None) -> DidForm:
    submitted = request.method == "POST"
    form = DidForm() if submitted or did is None else DidForm(formdata=None, obj=did)
    if did is not None and not submitted:
        form.entry.data = action_value(did.entry)
        form.schedule.data = did.schedule.name if did.schedule else ""
    queues, menus = draft_targets()
    form.entry.choices = action_choices(ENTRY_KINDS, queues, menus, [form.entry.data or ""])
    form.schedule.choices = [SelectChoice("", _("always open"))] + [
        SelectChoice(name, name)
        for name in db.session.scalars(select(Schedule.name).order_by(Schedule.name))
    ]
    return form


def _checked(form: DidForm, did: Did | None) -> bool:
    """Form checks plus what would break a call: a number twice, an entry pointing nowhere."""
    valid = form.validate_on_submit()
    if request.method != "POST":
        return False
    digits = number_digits(form.number.data or "")
    if form.number.data and not digits:
        form.number.errors.append(_("A number needs digits."))
    for other in db.session.scalars(select(Did).where(Did.id != (did.id if did else -1))):
        if digits and same_number(number_digits(other.number), digits):
            form.number.errors.append(
                _(
                    "DID %(number)s is the same number; calls would reach only one of them.",
                    number=other.number,
                )
            )
    kind, _colon, target = (form.entry.data or "").partition(":")
    queues, menus = draft_targets()
    if form.entry.data and kind not in ENTRY_KINDS:
        form.entry.errors.append(_("Calls enter a menu or a queue."))
    elif (kind == "queue" and target not in queues) or (kind == "menu" and target not in menus):
        form.entry.errors.append(_("“%(name)s” does not exist.", name=target))
    if (
        form.schedule.data
        and db.session.scalar(select(Schedule.id).where(Schedule.name == form.schedule.data))
        is None
    ):
        form.schedule.errors.append(_("These business hours do not exist."))
    return valid and not any(field.errors for field in form)


def _save(form: DidForm, did: Did) -> None:
    did.number = (form.number.data or "").strip()
    did.entry = action_from(form.entry.data or "")
    did.source = (form.source.data or "").strip() or None
    did.city = (form.city.data or "").strip() or None
    did.schedule = (
        db.session.scalar(select(Schedule).where(Schedule.name == form.schedule.data))
        if form.schedule.data
        else None
    )
    did.active = bool(form.active.data)


@require("admin.callflow")
def index() -> str:
    """Every DID of the draft."""
    dids = list(db.session.scalars(select(Did).order_by(Did.number)))
    return render_template("callflow/dids.html", dids=dids, delete_form=ConfirmForm())


@require("admin.callflow")
def create() -> str | Response | tuple[str, int]:
    """A new DID."""
    form = _form(None)
    if _checked(form, None):
        did = Did()
        _save(form, did)
        db.session.add(did)
        note_change("did", did.number, "create")
        db.session.commit()
        flash(
            _(
                "DID %(number)s is added to the draft. Publish to route calls by it.",
                number=did.number,
            ),
            "success",
        )
        return redirect(url_for("callflow.dids"))
    status = 400 if request.method == "POST" else 200
    return render_template("callflow/did_form.html", form=form, did=None), status


@require("admin.callflow")
def edit(did_id: int) -> str | Response | tuple[str, int]:
    """Change a DID."""
    did = _did(did_id)
    form = _form(did)
    if _checked(form, did):
        _save(form, did)
        note_change("did", did.number, "edit")
        db.session.commit()
        flash(_("DID %(number)s is saved in the draft.", number=did.number), "success")
        return redirect(url_for("callflow.dids"))
    status = 400 if request.method == "POST" else 200
    return render_template("callflow/did_form.html", form=form, did=did), status


@require("admin.callflow")
def delete(did_id: int) -> Response:
    """Remove a DID from the draft (its calls then go to the default queue)."""
    did = _did(did_id)
    if ConfirmForm().validate_on_submit():
        note_change("did", did.number, "delete")
        db.session.delete(did)
        db.session.commit()
        flash(_("DID %(number)s is removed from the draft.", number=did.number), "success")
    return redirect(url_for("callflow.dids"))
