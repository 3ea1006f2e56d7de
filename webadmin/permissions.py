"""Who may do what: the one permission check behind every page and API endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import ColumnElement, Select, and_, false, or_, select
from sqlalchemy.orm import object_session

from models import Call, QueueMember, Role, Status, User, queue_supervisors
from models.routing import Queue
from webadmin.json_error import json_error

OPERATOR, SUPERVISOR, ADMIN = Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value

#: Named permissions and the roles that hold them (the issue's roles table).
PERMISSIONS: dict[str, frozenset[str]] = {
    "calls.view": frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    "calls.complete": frozenset({OPERATOR, ADMIN}),
    "workspace.use": frozenset({OPERATOR, ADMIN}),
    "recordings.listen": frozenset({OPERATOR, SUPERVISOR, ADMIN}),
    "recordings.download": frozenset({SUPERVISOR, ADMIN}),
    "reports.view": frozenset({SUPERVISOR, ADMIN}),
    "admin.dictionaries": frozenset({ADMIN}),
    "admin.users": frozenset({ADMIN}),
    "admin.audit": frozenset({ADMIN}),
    "admin.callflow": frozenset({ADMIN}),
    "export.calls": frozenset({ADMIN}),
}

F = TypeVar("F", bound=Callable[..., Any])


def account_of(user: Any) -> User | None:
    """The `models.User` behind a signed-in user (Flask-Login's wrapper or the row itself)."""
    if isinstance(user, User):
        return user
    account = getattr(user, "account", None)
    return account if isinstance(account, User) else None


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
                refuse(403, _("Your role does not allow this (%(permission)s).",
                              permission=permission), api=api)
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


def overseen_queue_names(account: User) -> Select[Any]:
    """The names of the queues a supervisor oversees, as a subquery."""
    return (
        select(Queue.name)
        .join(queue_supervisors, queue_supervisors.c.queue_id == Queue.id)
        .where(queue_supervisors.c.user_id == account.id)
    )


def overseen_operator_ids(account: User) -> Select[Any]:
    """The ids of the operators serving a queue this supervisor oversees, as a subquery."""
    return select(QueueMember.user_id).where(
        QueueMember.queue_id.in_(select(queue_supervisors.c.queue_id).where(
            queue_supervisors.c.user_id == account.id))
    )


def supervised(account: User, queue: Any, operator_id: Any) -> ColumnElement[bool]:
    """Rows (cards or report roll-ups) of the queues this supervisor oversees."""
    # Outbound calls carry no queue; they belong to the queues their operator serves.
    return or_(queue.in_(overseen_queue_names(account)),
               and_(queue.is_(None), operator_id.in_(overseen_operator_ids(account))))


def calls_scope(stmt: Select[Any], user: Any) -> Select[Any]:
    """Restrict a `select(Call)` to the cards this user may see: the one rule, in SQL.

    The calls list, the API, reports, the caller's history and every single-card check
    (`can_see_call`) ask it, so no second copy of the rule can drift apart.
    """
    account = account_of(user)
    if account is None or not account.active:
        return stmt.where(false())
    if account.role == ADMIN:
        return stmt
    if account.role == SUPERVISOR:
        return stmt.where(supervised(account, Call.queue, Call.operator_id))
    if account.role == OPERATOR:
        # A callback nobody has taken yet (a message left out of hours) is for every operator
        # of its queue.
        served = select(Queue.name).join(QueueMember, QueueMember.queue_id == Queue.id).where(
            QueueMember.user_id == account.id)
        # Written as ix_calls_callbacks_untaken's own condition (`needs_callback`, not `IS
        # TRUE`), so the list reads that index: otherwise its count scanned every card.
        own = or_(Call.operator_id == account.id, and_(
            Call.needs_callback, Call.operator_id.is_(None), Call.queue.in_(served)))
        if account.extension:
            # A call still ringing at the operator's phone pops up before it has an operator.
            ringing = and_(Call.status == Status.RINGING.value,
                           Call.ringing_extension == account.extension)
            return stmt.where(or_(own, ringing))
        return stmt.where(own)
    return stmt.where(false())


def can_see_call(user: Any, call: Call) -> bool:
    """True when `calls_scope` lets this user see this card: the same SQL, asked of one card."""
    account = account_of(user)
    if account is None or not account.active:
        return False
    if account.role == ADMIN:
        return True
    session = object_session(call)
    if session is None or call.id is None:
        return False
    return session.scalar(
        calls_scope(select(Call.id).where(Call.id == call.id), account)) is not None


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
