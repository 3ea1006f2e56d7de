"""The operator's own state in the queues: ready for calls, or on a break (and why).

Asterisk keeps the state (pbx.pause); the site asks it when the workspace opens and tells
it when the operator steps away or comes back. Without Asterisk the page still works and
says the state is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectChoice, SelectField
from wtforms.validators import AnyOf

from pbx.pause import MemberState
from webadmin.callflow.apply import ask_pbx
from webadmin.labels import PAUSE_REASONS, pause_reason


class PauseForm(FlaskForm):
    """Step away (with a reason) or come back."""

    paused = HiddenField(validators=[AnyOf(["1", "0"])])
    reason = SelectField(
        _l("Reason"),
        default="break",
        choices=[SelectChoice(value, words) for value, words in PAUSE_REASONS.items()],
    )


@dataclass(frozen=True)
class OperatorStatus:
    """What the workspace shows: the state, or why it could not be read."""

    state: MemberState | None
    error: str | None = None

    @property
    def reason_words(self) -> str:
        """The pause reason in the operator's language (Asterisk's word if it is not ours)."""
        return pause_reason(self.state.reason if self.state is not None else "")


def operator_status(extension: str) -> OperatorStatus | None:
    """The operator's state in Asterisk's queues; None when the site has no AMI set up."""
    answer = ask_pbx(
        f"read the queue state of extension {extension}", lambda pbx: pbx.operator_state(extension)
    )
    return OperatorStatus(answer.value, answer.error) if answer is not None else None


def change_status(extension: str, paused: bool, reason: str) -> OperatorStatus | None:
    """Pause the operator's phone in every queue, or make it ready; the state after."""
    answer = ask_pbx(
        f"change the queue state of extension {extension}",
        lambda pbx: pbx.pause_operator(extension, paused, reason),
    )
    return OperatorStatus(answer.value, answer.error) if answer is not None else None
