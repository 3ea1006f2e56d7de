"""Operators now: who is ready for queue calls and who is on a break, as Asterisk has it.

One AMI QueueStatus per page (pbx.pause.operator_states); a supervisor sees the operators
of the queues they oversee, an admin every operator. Without Asterisk the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_login import current_user
from sqlalchemy import select

from models import User
from models.users import Role
from webadmin.callflow.apply import ask_pbx
from webadmin.callflow.draft import site_settings
from webadmin.extensions import db
from webadmin.labels import pause_reason
from webadmin.permissions import overseen_operator_ids


@dataclass(frozen=True)
class OperatorNow:
    """One operator's row: who, and their phone's state in the queues (None: unknown)."""

    user: User
    state: Any | None  # pbx.pause.MemberState

    @property
    def reason_words(self) -> str:
        """The pause reason in the reader's language."""
        return pause_reason(self.state.reason if self.state is not None else "")


def visible_operators() -> list[User]:
    """Active operators with a phone; for a supervisor only those of their queues."""
    stmt = select(User).where(User.active.is_(True), User.role == Role.OPERATOR.value,
                              User.extension.is_not(None)).order_by(User.extension)
    if current_user.role == Role.SUPERVISOR.value:
        # The operators whose queue-less cards the supervisor sees (permissions.supervised).
        stmt = stmt.where(User.id.in_(overseen_operator_ids(current_user.account)))
    return list(db.session.scalars(stmt))


def operators_now() -> tuple[list[OperatorNow], str | None]:
    """Each visible operator with their state, and why the states are unknown (if they are)."""
    operators = visible_operators()
    answer = ask_pbx("read the operators' queue states", "pbx.pause", "operator_states",
                     site_settings(), [user.extension for user in operators])
    states, error = answer if answer is not None else (None, "no pbx module")
    return [OperatorNow(user, states.get(user.extension) if states else None)
            for user in operators], error
