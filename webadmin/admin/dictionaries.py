"""Purposes, categories, subcategories and tags: create, rename, reorder, hide, delete if unused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString
from flask_login import current_user
from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from models import AuditEntry, Call, CallCategory, CallPurpose, CallSubCategory, CallTag, call_tags
from webadmin.admin.forms import DictionaryItemForm
from webadmin.extensions import db
from webadmin.permissions import require


@dataclass(frozen=True)
class Kind:
    """One dictionary: its model, its title, and how to tell whether an item is in use."""

    model: Any
    title: LazyString
    usage: Any  # a column of `calls` (or of call_tags) that points at the item


KINDS: dict[str, Kind] = {
    "purposes": Kind(CallPurpose, _l("Purposes"), Call.purpose_id),
    "categories": Kind(CallCategory, _l("Categories"), Call.category_id),
    "subcategories": Kind(CallSubCategory, _l("Subcategories"), Call.sub_category_id),
    "tags": Kind(CallTag, _l("Tags"), call_tags.c.tag_id),
}


def _kind(name: str) -> Kind:
    if name not in KINDS:
        abort(404)
    return KINDS[name]


def _item(kind: Kind, item_id: int) -> Any:
    item = db.session.get(kind.model, item_id)
    if item is None:
        abort(404)
    return item


def in_use(kind: Kind, item_id: int) -> bool:
    """True when a card (or, for a category, a subcategory) refers to the item."""
    used = bool(db.session.scalar(select(exists().where(kind.usage == item_id))))
    if kind.model is CallCategory:
        used = used or bool(
            db.session.scalar(select(exists().where(CallSubCategory.category_id == item_id)))
        )
    return used


def _siblings(kind: Kind, item: Any) -> Any:
    stmt = select(kind.model)
    if kind.model is CallSubCategory:
        stmt = stmt.where(CallSubCategory.category_id == item.category_id)
    return stmt.order_by(kind.model.position, kind.model.id)


def _category_choices(categories: Iterable[CallCategory]) -> list[SelectChoice]:
    return [SelectChoice(str(category.id), category.name) for category in categories]


def _audit(kind_name: str, item: Any, change: str) -> None:
    db.session.add(
        AuditEntry(
            user_id=current_user.id,
            action="dictionary.change",
            remote_addr=request.remote_addr,
            detail={"kind": kind_name, "item": item.id, "name": item.name, "change": change},
        )
    )


def _back(kind_name: str) -> Response:
    return redirect(url_for("admin.dictionaries", kind=kind_name))


@require("admin.dictionaries")
def index(kind: str) -> str:
    """The items of one dictionary, in order, with their use counts."""
    dictionary = _kind(kind)
    model = dictionary.model
    stmt = select(model).order_by(model.position, model.id)
    categories = list(db.session.scalars(select(CallCategory).order_by(CallCategory.position)))
    if model is CallSubCategory:
        stmt = select(model).join(CallCategory).order_by(CallCategory.position, model.position)
    items = list(db.session.scalars(stmt))
    usage_column = dictionary.usage
    counts: dict[int, int] = dict(
        db.session.execute(
            select(usage_column, func.count())
            .where(usage_column.is_not(None))
            .group_by(usage_column)
        ).all()
    )
    form = DictionaryItemForm()
    form.category.choices = _category_choices(categories)
    # A category that still has subcategories is in use too; only hiding is offered then.
    deletable = {
        item.id
        for item in items
        if not counts.get(item.id) and not (model is CallCategory and item.sub_categories)
    }
    return render_template(
        "admin/dictionaries.html",
        kinds=KINDS,
        kind=kind,
        dictionary=dictionary,
        items=items,
        counts=counts,
        form=form,
        deletable=deletable,
    )


@require("admin.dictionaries")
def create(kind: str) -> Response | tuple[str, int]:
    """Add an item at the end of its list."""
    dictionary = _kind(kind)
    form = DictionaryItemForm()
    form.category.choices = _category_choices(
        db.session.scalars(select(CallCategory).order_by(CallCategory.position))
    )
    if not form.validate_on_submit():
        flash(_("Enter a name for the new item."), "error")
        return _back(kind)
    if (
        dictionary.model is CallSubCategory
        and db.session.get(CallCategory, form.category.data or -1) is None
    ):
        flash(_("Choose a category."), "error")
        return _back(kind)
    values: dict[str, Any] = {"name": form.name.data.strip()}
    if dictionary.model is CallSubCategory:
        values["category_id"] = form.category.data
    last = select(func.coalesce(func.max(dictionary.model.position), -1))
    if dictionary.model is CallSubCategory:
        last = last.where(CallSubCategory.category_id == form.category.data)
    item = dictionary.model(**values, position=int(db.session.scalar(last)) + 1, active=True)
    db.session.add(item)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        flash(_("An item with this name already exists."), "error")
        return _back(kind)
    _audit(kind, item, "create")
    db.session.commit()
    flash(_("Added: %(name)s", name=item.name), "success")
    return _back(kind)


@require("admin.dictionaries")
def rename(kind: str, item_id: int) -> Response:
    """Give an item a new name (cards that use it show the new name)."""
    dictionary = _kind(kind)
    item = _item(dictionary, item_id)
    name = (request.form.get("name") or "").strip()
    if not name or len(name) > 128:
        flash(_("A name must have 1 to 128 characters."), "error")
        return _back(kind)
    old, item.name = item.name, name
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        flash(_("An item with this name already exists."), "error")
        return _back(kind)
    _audit(kind, item, f"rename from {old}")
    db.session.commit()
    flash(_("Renamed to %(name)s.", name=name), "success")
    return _back(kind)


@require("admin.dictionaries")
def move(kind: str, item_id: int) -> Response:
    """Move an item one place up or down in its list."""
    dictionary = _kind(kind)
    item = _item(dictionary, item_id)
    siblings = list(db.session.scalars(_siblings(dictionary, item)))
    index_of = siblings.index(item)
    target = index_of - 1 if request.form.get("direction") == "up" else index_of + 1
    if 0 <= target < len(siblings):
        siblings[index_of], siblings[target] = siblings[target], siblings[index_of]
        # Renumber the whole list so equal or sparse positions settle into a clean order.
        for position, sibling in enumerate(siblings):
            sibling.position = position
        _audit(kind, item, "move")
        db.session.commit()
    return _back(kind)


@require("admin.dictionaries")
def set_active(kind: str, item_id: int) -> Response:
    """Hide an item from new cards, or offer it again."""
    dictionary = _kind(kind)
    item = _item(dictionary, item_id)
    item.active = request.form.get("active") == "1"
    _audit(kind, item, "activate" if item.active else "deactivate")
    db.session.commit()
    flash(
        _("%(name)s is offered on new cards again.", name=item.name)
        if item.active
        else _("%(name)s is hidden from new cards.", name=item.name),
        "success",
    )
    return _back(kind)


@require("admin.dictionaries")
def delete(kind: str, item_id: int) -> Response:
    """Delete an item no card uses; an item in use can only be hidden."""
    dictionary = _kind(kind)
    item = _item(dictionary, item_id)
    if in_use(dictionary, item_id):
        flash(
            _("%(name)s is in use and cannot be deleted; hide it instead.", name=item.name), "error"
        )
        return _back(kind)
    _audit(kind, item, "delete")
    db.session.delete(item)
    db.session.commit()
    flash(_("Deleted: %(name)s", name=item.name), "success")
    return _back(kind)
