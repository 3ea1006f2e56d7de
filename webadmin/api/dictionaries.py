"""The dictionaries an operator picks from: purposes, categories, subcategories, tags."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from models import CallSubCategory
from webadmin.admin.dictionaries import KINDS
from webadmin.extensions import db
from webadmin.inputs import flag_argument
from webadmin.permissions import has_permission, refuse, require


def _item(item: Any) -> dict[str, Any]:
    shown = {"id": item.id, "name": item.name, "position": item.position, "active": item.active}
    if isinstance(item, CallSubCategory):
        shown["category_id"] = item.category_id
    return shown


@require("calls.view")
def dictionary(kind: str) -> Response:
    """The active items of a dictionary in their order; `?all=1` adds hidden ones (admins)."""
    model = KINDS[kind].model
    everything = flag_argument("all", request.args.get("all"))
    if everything and not has_permission(current_user, "admin.dictionaries"):
        refuse(403, _("Only administrators see hidden dictionary items."), api=True)
    stmt = select(model)
    if not everything:
        stmt = stmt.where(model.active.is_(True))
    if model is CallSubCategory:
        stmt = stmt.order_by(CallSubCategory.category_id)
    items = db.session.scalars(stmt.order_by(model.position, model.id))
    return jsonify(data=[_item(item) for item in items])
