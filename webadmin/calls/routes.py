"""Pages over call cards: the filtered list, an operator's own calls, one card."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import not_
from werkzeug.wrappers import Response

from models import Call
from webadmin.calls.completion import save_card
from webadmin.calls.forms import CardForm
from webadmin.calls.paging import paginate_calls, paginate_parts
from webadmin.calls.queries import (
    CallFilters,
    FilterError,
    caller_history,
    filter_options,
    filtered_calls,
    incomplete_clause,
)
from webadmin.extensions import db
from webadmin.inputs import requested_page
from webadmin.permissions import has_permission, require, visible_call
from webadmin.recordings.files import recording_state

bp = Blueprint("calls", __name__)


@bp.get("/calls", endpoint="list")
@require("calls.view")
def calls_list() -> tuple[str, int] | str:
    """The calls the user may see, filtered, sorted and a page at a time."""
    options = filter_options(db.session, current_user)
    try:
        filters = CallFilters.from_args(request.args, per_page=current_app.config["CALLS_PER_PAGE"])
    except FilterError as error:
        return render_template(
            "calls/list.html",
            filters=CallFilters(args=dict(request.args)),
            page=None,
            options=options,
            errors=error.errors,
        ), 400
    page = paginate_calls(filtered_calls(filters, current_user), filters.page, filters.per_page)
    return render_template(
        "calls/list.html", filters=filters, page=page, options=options, errors={}
    )


@bp.get("/calls/mine")
@require("calls.view")
def mine() -> str:
    """The user's own calls: cards still waiting for completion first, then the newest."""
    filters = CallFilters(
        page=requested_page(request.args.get("page")), per_page=current_app.config["CALLS_PER_PAGE"]
    )
    own = filtered_calls(filters, current_user).where(Call.operator_id == current_user.id)
    # Two sorted selects one after the other, not one sort of all the operator's cards.
    waiting, rest = own.where(incomplete_clause()), own.where(not_(incomplete_clause()))
    page = paginate_parts([waiting, rest], filters.page, filters.per_page)
    return render_template("calls/mine.html", page=page, filters=filters)


def card_form(call: Call, *, load: bool) -> CardForm:
    """The card form with the dictionary choices this card may use."""
    form = CardForm(formdata=None) if load else CardForm()
    form.offer_choices(db.session, call)
    if load:
        form.load(call)
    return form


def card_context(call: Call, form: CardForm | None) -> dict[str, Any]:
    """What the card page and the workspace's popped card show."""
    return {
        "call": call,
        "form": form,
        "history": caller_history(db.session, call, current_user),
        "recording": recording_state(call),
        "subcategory_parents": form.sub_category_parents if form else {},
    }


@bp.get("/calls/<int:call_id>")
@require("calls.view")
def card(call_id: int) -> str:
    """One card: its fields, the form (for those who complete cards), timeline and recording."""
    call = visible_call(call_id)
    form = card_form(call, load=True) if has_permission(current_user, "calls.complete") else None
    return render_template("calls/card.html", **card_context(call, form))


@bp.post("/calls/<int:call_id>/card")
@require("calls.complete")
def complete(call_id: int) -> Response | tuple[str, int]:
    """Save the card form; messages next to the fields when something is missing."""
    call = visible_call(call_id)
    form = card_form(call, load=False)
    from_workspace = form.origin.data == "workspace"
    if not form.validate_on_submit():
        template = "workspace/index.html" if from_workspace else "calls/card.html"
        return render_template(template, **card_context(call, form), pending=[]), 400
    first = save_card(db.session, call, form, current_user.account)
    db.session.commit()
    flash(_("The card is saved.") if first else _("The changes are saved."), "success")
    if from_workspace:
        return redirect(url_for("workspace.index"))
    return redirect(url_for("calls.card", call_id=call.id))
