"""Operators now: who is ready for queue calls and who is on a break, as Asterisk has it.

One AMI QueueStatus per page (PbxClient.operator_states); whom a supervisor sees is the one
visibility rule (models.visibility.visible_operators). Without AMI the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user

from models import User
from models.visibility import visible_operators
from pbx.pause import MemberState
from webadmin.callflow.apply import ask_pbx
from webadmin.extensions import db
from webadmin.labels import pause_reason


@dataclass(frozen=True)
class OperatorNow:
    """One operator's row: who, and their phone's state in the queues (None: unknown)."""

    user: User
    state: MemberState | None

    @property
    def reason_words(self) -> str:
        """The pause reason in the reader's language."""
        return pause_reason(self.state.reason if self.state is not None else "")


def operators_now() -> tuple[list[OperatorNow], str | None]:
    """Each visible operator with their state, and why the states are unknown (if they are)."""
    operators = visible_operators(db.session(), current_user)
    extensions = [user.extension for user in operators if user.extension]
    answer = ask_pbx(
        "read the operators' queue states", lambda pbx: pbx.operator_states(extensions)
    )
    if answer is None:
        return [OperatorNow(user, None) for user in operators], None  # the page says why
    states = answer.value or {}
    return [OperatorNow(user, states.get(user.extension or "")) for user in operators], answer.error
