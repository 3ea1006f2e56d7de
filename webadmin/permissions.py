"""Who may do what: the one permission check behind every page and API endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user

from models import Call
from models.visibility import (
    ADMIN,
    OPERATOR,
    SUPERVISOR,
    account_of,
    calls_scope,
    can_see_call,
)
from webadmin.json_error import json_error

# The visibility rule itself lives in models/visibility.py, where the reports and the CLI
# reach it without Flask; these names are re-exported for the site's views.
__all__ = [
    "ADMIN",
    "OPERATOR",
    "PERMISSIONS",
    "SUPERVISOR",
    "account_of",
    "calls_scope",
    "can_see_call",
    "has_permission",
    "refuse",
    "require",
    "signed_in",
    "visible_call",
    "wants_json",
]

#: Named permissions and the roles that hold them (the issue's roles table).
PERMISSIONS: dict[str, frozenset[str]] = {
    "calls.view": frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    "calls.complete": frozenset({OPERATOR, ADMIN}),
    "workspace.use": frozenset({OPERATOR, ADMIN}),
    "recordings.listen": frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    "recordings.download": frozenset({SUPERVISOR, ADMIN}),
    "reports.view": frozenset({SUPERVISOR, ADMIN}),
    "live.wallboard": frozenset({SUPERVISOR, ADMIN}),
    "live.supervise": frozenset({SUPERVISOR, ADMIN}),
    "admin.dictionaries": frozenset({ADMIN}),
    "admin.users": frozenset({ADMIN}),
    "admin.audit": frozenset({ADMIN}),
    "admin.callflow": frozenset({ADMIN}),
    "export.calls": frozenset({ADMIN}),
    "callbacks.view": frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    "callbacks.call": frozenset({OPERATOR, ADMIN}),  # those with a phone of their own
    "callbacks.assign": frozenset({SUPERVISOR, ADMIN}),
}

F = TypeVar("F", bound=Callable[..., Any])


def has_permission(user: Any, permission: str) -> bool:
    """True when this user's role holds the named permission."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission: {permission}")
    account = account_of(user)
    if account is None or not account.active:
        return False
    return account.role in PERMISSIONS[permission]


def wants_json(api: bool | None = None) -> bool:
    """True for API requests, which get JSON 401/403 instead of redirects and HTML pages."""
    if api is not None:
        return api
    blueprint = request.blueprint or ""
    return blueprint == "api" or blueprint.startswith("api.") or request.path.startswith("/api/")


def refuse(status: int, message: str, *, api: bool | None = None) -> Any:
    """Stop the request with 401/403: JSON for the API, else the sign-in or an error page."""
    from webadmin.extensions import login_manager

    if wants_json(api):
        response = json_error(status, message)
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="callcards"'
        abort(response)
    if status == 401:
        abort(login_manager.unauthorized())
    abort(status, description=message)


def require(permission: str, *, api: bool | None = None) -> Callable[[F], F]:
    """Decorate a view: visitors are sent to log in (API: 401), users without the right get 403."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission: {permission}")

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                refuse(401, _("Please sign in to open this page."), api=api)
            if not has_permission(current_user, permission):
                refuse(
                    403,
                    _("Your role does not allow this (%(permission)s).", permission=permission),
                    api=api,
                )
            return view(*args, **kwargs)

        guarded.required_permission = permission  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def signed_in(view: F) -> F:
    """Decorate a view any active member of staff may open."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            refuse(401, _("Please sign in to open this page."))
        return view(*args, **kwargs)

    return guarded  # type: ignore[return-value]


def visible_call(call_id: int, *, api: bool | None = None) -> Call:
    """The card with this id if the current user may see it; 404 or 403 otherwise."""
    from webadmin.extensions import db

    call = db.session.get(Call, call_id)
    if call is None:
        if wants_json(api):
            abort(json_error(404, _("No such call card.")))
        abort(404)
    if not can_see_call(current_user, call):
        refuse(403, _("This card belongs to another operator or queue."), api=api)
    return call
