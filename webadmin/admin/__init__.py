"""Administration: dictionaries, users, the audit log."""

from __future__ import annotations

from flask import Blueprint

from webadmin.admin import audit, dictionaries, users

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Declared in one place, so the admin area's pages can be read at a glance.
bp.add_url_rule("/dictionaries/<kind>", view_func=dictionaries.index, endpoint="dictionaries")
bp.add_url_rule(
    "/dictionaries/<kind>",
    view_func=dictionaries.create,
    endpoint="dictionary_create",
    methods=["POST"],
)
bp.add_url_rule(
    "/dictionaries/<kind>/<int:item_id>/rename",
    view_func=dictionaries.rename,
    endpoint="dictionary_rename",
    methods=["POST"],
)
bp.add_url_rule(
    "/dictionaries/<kind>/<int:item_id>/move",
    view_func=dictionaries.move,
    endpoint="dictionary_move",
    methods=["POST"],
)
bp.add_url_rule(
    "/dictionaries/<kind>/<int:item_id>/active",
    view_func=dictionaries.set_active,
    endpoint="dictionary_active",
    methods=["POST"],
)
bp.add_url_rule(
    "/dictionaries/<kind>/<int:item_id>/delete",
    view_func=dictionaries.delete,
    endpoint="dictionary_delete",
    methods=["POST"],
)
bp.add_url_rule("/users", view_func=users.index, endpoint="users")
bp.add_url_rule("/users/new", view_func=users.create, endpoint="user_new", methods=["GET", "POST"])
bp.add_url_rule(
    "/users/<int:user_id>", view_func=users.edit, endpoint="user_edit", methods=["GET", "POST"]
)
bp.add_url_rule(
    "/users/<int:user_id>/password",
    view_func=users.reset_password,
    endpoint="user_password",
    methods=["POST"],
)
bp.add_url_rule(
    "/users/<int:user_id>/phone-password",
    view_func=users.phone_password,
    endpoint="user_phone_password",
    methods=["POST"],
)
bp.add_url_rule("/audit", view_func=audit.index, endpoint="audit")

__all__ = ["bp"]
