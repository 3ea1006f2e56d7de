"""Who may see which card and which operator: the one visibility rule, in SQL, without Flask.

The calls list, the API, the card page, the caller's history box, the reports (from the cards
and from the roll-ups), the export and "Operators now" all ask these functions, so no second
copy of the rule can drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session, object_session

from models.callbacks import CallbackTask
from models.calls import Call, Status
from models.routing import Queue
from models.users import QueueMember, Role, User, queue_supervisors

OPERATOR, SUPERVISOR, ADMIN = Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value


def account_of(user: Any) -> User | None:
    """The `models.User` behind a signed-in user (Flask-Login's wrapper or the row itself)."""
    if isinstance(user, User):
        return user
    account = getattr(user, "account", None)
    return account if isinstance(account, User) else None


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
        QueueMember.queue_id.in_(
            select(queue_supervisors.c.queue_id).where(queue_supervisors.c.user_id == account.id)
        )
    )


def supervised(account: User, queue: Any, operator_id: Any) -> ColumnElement[bool]:
    """Rows (cards or report roll-ups) of the queues this supervisor oversees."""
    # Outbound calls carry no queue; they belong to the queues their operator serves.
    return or_(
        queue.in_(overseen_queue_names(account)),
        and_(queue.is_(None), operator_id.in_(overseen_operator_ids(account))),
    )


def report_reader(user: Any) -> User | None:
    """The account behind `user` when it may read reports (an active admin or supervisor)."""
    account = account_of(user)
    if account is None or not account.active or account.role not in (ADMIN, SUPERVISOR):
        return None
    return account


def rows_seen(user: Any, queue: Any, operator_id: Any) -> ColumnElement[bool]:
    """The condition on (queue, operator) columns under which a report's rows are visible.

    Reports are for supervisors and admins: an admin sees every row, a supervisor the rows
    `supervised` gives them, anyone else none. The roll-ups and the cards both ask it.
    """
    account = report_reader(user)
    if account is None:
        return false()
    if account.role == ADMIN:
        return true()
    return supervised(account, queue, operator_id)


def served_queue_names(account: User) -> Select[Any]:
    """The names of the queues an operator answers, as a subquery."""
    return (
        select(Queue.name)
        .join(QueueMember, QueueMember.queue_id == Queue.id)
        .where(QueueMember.user_id == account.id)
    )


def tasks_scope(stmt: Select[Any], user: Any) -> Select[Any]:
    """Restrict a `select(CallbackTask)` to the tasks this user may see and work.

    An admin sees every task, a supervisor those of the queues they oversee, an operator
    those of the queues they answer and any task handed to them.
    """
    account = account_of(user)
    if account is None or not account.active:
        return stmt.where(false())
    if account.role == ADMIN:
        return stmt
    if account.role == SUPERVISOR:
        return stmt.where(CallbackTask.queue.in_(overseen_queue_names(account)))
    if account.role == OPERATOR:
        return stmt.where(
            or_(
                CallbackTask.queue.in_(served_queue_names(account)),
                CallbackTask.taken_by_id == account.id,
            )
        )
    return stmt.where(false())


def operators_seen(user: Any, operator_id: Any) -> ColumnElement[bool]:
    """The condition on an operator-id column under which a report shows that operator's
    rows (their sessions): an admin every operator, a supervisor those serving a queue they
    oversee, anyone else none."""
    account = report_reader(user)
    if account is None:
        return false()
    if account.role == ADMIN:
        return true()
    return operator_id.in_(overseen_operator_ids(account))  # type: ignore[no-any-return]


def queues_seen(user: Any, queue: Any) -> ColumnElement[bool]:
    """The condition on a queue-name column under which a report shows that queue's rows:
    an admin every queue, a supervisor those they oversee, anyone else none."""
    account = report_reader(user)
    if account is None:
        return false()
    if account.role == ADMIN:
        return true()
    return queue.in_(overseen_queue_names(account))  # type: ignore[no-any-return]


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
        served = served_queue_names(account)
        # Written as ix_calls_callbacks_untaken's own condition (`needs_callback`, not `IS
        # TRUE`), so the list reads that index: otherwise its count scanned every card.
        own = or_(
            Call.operator_id == account.id,
            and_(Call.needs_callback, Call.operator_id.is_(None), Call.queue.in_(served)),
        )
        if account.extension:
            # A call still ringing at the operator's phone pops up before it has an operator.
            ringing = and_(
                Call.status == Status.RINGING.value, Call.ringing_extension == account.extension
            )
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
    return (
        session.scalar(calls_scope(select(Call.id).where(Call.id == call.id), account)) is not None
    )


def visible_operators(session: Session, user: Any) -> list[User]:
    """Active operators with a phone this user oversees: every one for an admin, for a
    supervisor those whose queue-less cards `supervised` shows them, none for anyone else."""
    account = report_reader(user)
    if account is None:
        return []
    stmt = (
        select(User)
        .where(User.active.is_(True), User.role == OPERATOR, User.extension.is_not(None))
        .order_by(User.extension)
    )
    return list(session.scalars(stmt.where(operators_seen(account, User.id))))


@dataclass(frozen=True)
class LiveScope:
    """Which live events (live_events rows) a viewer's stream carries: worked out once per
    stream, then asked of each event without SQL. `everything`: an admin."""

    everything: bool = False
    user_id: int | None = None
    queues: frozenset[str] = frozenset()
    operator_ids: frozenset[int] = frozenset()

    def sees(self, queue: str | None, user_id: int | None) -> bool:
        """Operators: their own events (their state, wrap-up and ringing); supervisors: the
        queues they oversee and those queues' operators; admins: all. An event for nobody
        in particular (Asterisk connected or not, the floor re-read) reaches every stream."""
        if self.everything or (queue is None and user_id is None):
            return True
        if user_id is not None and (user_id == self.user_id or user_id in self.operator_ids):
            return True
        return queue is not None and queue in self.queues

    def sees_operator(self, user_id: int | None, queues: list[str]) -> bool:
        """An operator's row on the floor picture: theirs, or of a queue or operator overseen."""
        if self.everything:
            return True
        if user_id is not None and (user_id == self.user_id or user_id in self.operator_ids):
            return True
        return bool(self.queues.intersection(queues))


def live_scope(session: Session, user: Any) -> LiveScope:
    """The live events `user` may follow (the one rule for the site's streams)."""
    account = account_of(user)
    if account is None or not account.active:
        return LiveScope()
    if account.role == ADMIN:
        return LiveScope(everything=True, user_id=account.id)
    if account.role == SUPERVISOR:
        return LiveScope(
            user_id=account.id,
            queues=frozenset(session.scalars(overseen_queue_names(account))),
            operator_ids=frozenset(
                i for i in session.scalars(overseen_operator_ids(account)) if i is not None
            ),
        )
    if account.role == OPERATOR:
        return LiveScope(user_id=account.id)
    return LiveScope()
