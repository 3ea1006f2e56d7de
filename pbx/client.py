"""What the staff site asks of Asterisk, typed: one object the app factory makes when AMI is set.

The site holds a `PbxClient` in `app.extensions["pbx"]` when CALLCARDS_AMI_SECRET is set,
None otherwise, and every page asks that object: no import strings, no `Any` results.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from callcards.config import Settings
from pbx.apply import apply_queues
from pbx.callout import CallOut, call_out_from_settings
from pbx.endpoints import apply_endpoints
from pbx.pause import (
    MemberState,
    log_out_operator,
    operator_state,
    operator_states,
    pause_operator,
)
from pbx.steps import ApplyResult


@dataclass(frozen=True)
class PbxClient:
    """Asterisk as the site reaches it (AMI and its config folder), for these settings."""

    settings: Settings

    def apply_queues(self, session: Session) -> ApplyResult:
        """Write the queues and their operators for Asterisk, reload, check (pbx.apply)."""
        return apply_queues(session, self.settings)

    def apply_phones(self, session: Session) -> ApplyResult:
        """Write the operators' phones for Asterisk, reload, check (pbx.endpoints)."""
        return apply_endpoints(session, self.settings)

    def operator_state(self, extension: str) -> MemberState:
        """The operator's phone in the queues: paused or ready, why, since when."""
        return operator_state(self.settings, extension)

    def pause_operator(self, extension: str, paused: bool, reason: str = "") -> MemberState:
        """Pause the operator's phone in every queue, or make it ready; the state after."""
        return pause_operator(self.settings, extension, paused, reason)

    def log_out_operator(self, extension: str) -> MemberState:
        """Take the operator's phone out of the queues (paused "logged out" where it must stay)."""
        return log_out_operator(self.settings, extension)

    def operator_states(self, extensions: list[str]) -> dict[str, MemberState]:
        """Each operator's phone state (by extension), in one AMI QueueStatus."""
        return operator_states(self.settings, extensions)

    def call_out(self, call: CallOut) -> str:
        """Ring the operator's phone, then the customer (pbx.callout); the call's linkedid."""
        return call_out_from_settings(self.settings, call)
