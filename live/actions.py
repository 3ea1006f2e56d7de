"""A supervisor pauses, unpauses or logs out an operator, with a reason, audited.

The site calls `supervise` (its routes check the role and the CSRF token first). The change
goes to Asterisk through the site's PbxClient (AMI QueuePause / QueueRemove); the floor
listener hears the resulting member events and writes the intervals, as for a pause the
operator takes themselves. The audit row says who did what to whom, and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from models import AuditEntry, User
from pbx.client import PbxClient
from pbx.pause import MemberState

#: A pause reason is at most this long (operator_states.reason).
MAX_REASON = 64


class SupervisorAction(StrEnum):
    """What a supervisor may do to an operator's phone (the audit action is `operator.<value>`,
    webadmin/labels.py says it in words)."""

    PAUSE = "supervisor_pause"
    UNPAUSE = "supervisor_ready"
    LOG_OUT = "supervisor_logout"


class NotAnOperator(ValueError):
    """The user has no phone extension (nothing to pause)."""


@dataclass(frozen=True)
class Supervised:
    """What a supervisor's action left: the operator's phone in the queues after it."""

    action: SupervisorAction
    operator_id: int
    state: MemberState


def supervise(
    session: Session,
    pbx: PbxClient,
    *,
    supervisor: User,
    operator: User,
    action: SupervisorAction,
    reason: str = "",
    remote_addr: str | None = None,
) -> Supervised:
    """Do `action` to `operator`'s phone and audit it (added to `session`, committed by the
    caller). AmiError when Asterisk refuses or cannot be reached (nothing is audited then)."""
    if not operator.extension:
        raise NotAnOperator(f"{operator.login} has no phone extension")
    reason = " ".join(reason.split())[:MAX_REASON]
    if action is SupervisorAction.LOG_OUT:
        state = pbx.log_out_operator(operator.extension)
    else:
        paused = action is SupervisorAction.PAUSE
        state = pbx.pause_operator(operator.extension, paused, reason if paused else "")
    session.add(
        AuditEntry(
            user_id=supervisor.id,
            action=f"operator.{action.value}",
            remote_addr=remote_addr,
            detail={
                "operator": operator.login,
                "operator_id": operator.id,
                "extension": operator.extension,
                "reason": reason,
                "queues": list(state.queues),
            },
        )
    )
    return Supervised(action, operator.id, state)
