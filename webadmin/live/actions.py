"""A supervisor's buttons on the wallboard: pause an operator (with a reason), unpause, log out.

The one place the site tells Asterisk to do it (through the site's PbxClient); the floor
listener sees the member events that follow and the board changes by itself. Kept to this
one function so the floor's own actions (live/actions.py) can take its place.
"""

from __future__ import annotations

from enum import StrEnum

from pbx.client import PbxClient
from pbx.pause import MemberState


class Act(StrEnum):
    """What a supervisor does to an operator (the audit log's action is `operator.<act>`)."""

    PAUSE = "supervisor_pause"
    READY = "supervisor_ready"
    LOG_OUT = "supervisor_logout"


def act_on_operator(pbx: PbxClient, extension: str, act: Act, reason: str = "") -> MemberState:
    """Do `act` to the operator's phone in every queue; their state after (AmiError if not)."""
    if act is Act.PAUSE:
        return pbx.pause_operator(extension, True, reason)
    if act is Act.READY:
        return pbx.pause_operator(extension, False)
    return pbx.log_out_operator(extension)
