"""Call cards over JSON: the filtered list, one card, a card logged by hand, completing a card."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import abort
from werkzeug.wrappers import Response

from webadmin.api.errors import api_error
from webadmin.api.payloads import Invalid, card_form, card_json, has_card_fields, new_call
from webadmin.calls.completion import save_card
from webadmin.calls.paging import paginate_calls
from webadmin.calls.queries import (
    CallFilters,
    FilterError,
    display_timezone,
    filtered_calls,
)
from webadmin.extensions import db
from webadmin.permissions import require, visible_call


def _json_object() -> dict[str, Any]:
    """The request's JSON object; a 400 in the API's shape when it is not one."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        abort(api_error(400, _("Send a JSON object (Content-Type: application/json).")))
    return payload


def _invalid(error: Invalid) -> Response:
    return api_error(422, _("Some fields are not valid."), fields=error.fields)


@require("calls.view")
def list_calls() -> Response:
    """The cards the user may see, filtered like the calls list, a page at a time."""
    args = request.args.to_dict()
    renamed = "limit" in args
    if renamed:
        args["per_page"] = args.pop("limit")
    try:
        filters = CallFilters.from_args(args, per_page=current_app.config["CALLS_PER_PAGE"])
    except FilterError as error:
        fields = {
            ("limit" if renamed and name == "per_page" else name): [message]
            for name, message in error.errors.items()
        }
        return api_error(
            400, _("Some filters could not be understood."), code="bad_filter", fields=fields
        )
    page = paginate_calls(filtered_calls(filters, current_user), filters.page, filters.per_page)
    return jsonify(
        data=[card_json(call) for call in page.items],
        pagination={
            "page": page.page,
            "limit": page.per_page,
            "total": page.total,
            "totalPages": page.pages,
            "totalExact": page.exact,
            "hasNext": page.has_next,
        },
    )


@require("calls.view")
def get_call(call_id: int) -> Response:
    """One card."""
    return jsonify(card_json(visible_call(call_id, api=True)))


@require("calls.complete")
def create_call() -> tuple[Response, int, dict[str, str]] | Response:
    """Log a call by hand; with the card fields it is completed at once."""
    payload = _json_object()
    try:
        call = new_call(db.session, payload, current_user.account, display_timezone())
        form = card_form(db.session, call, payload) if has_card_fields(payload) else None
    except Invalid as error:
        return _invalid(error)
    db.session.add(call)
    db.session.flush()
    if form is not None:
        save_card(db.session, call, form, current_user.account)
    db.session.commit()
    location = url_for("api.get_call", call_id=call.id)
    return jsonify(card_json(call)), 201, {"Location": location}


@require("calls.complete")
def complete_call(call_id: int) -> Response:
    """Complete (or edit) a card with the same rules as the card form."""
    call = visible_call(call_id, api=True)
    payload = _json_object()
    try:
        form = card_form(db.session, call, payload)
    except Invalid as error:
        return _invalid(error)
    save_card(db.session, call, form, current_user.account)
    db.session.commit()
    return jsonify(card_json(call))
