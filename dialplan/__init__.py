"""Where a call goes: DIDs, business hours, IVR menus, queues and their overflow, as pure functions.

Imports nothing of ours, nor AGI nor Flask: the live FastAGI call, the admin's route
simulator and the tests all call the same functions.
"""

from __future__ import annotations

from dialplan.dids import DidMatch, resolve_did
from dialplan.document import Problem, SettingsError
from dialplan.flow import CallFlow, SimulatedCall, decide_transfer, default_decision, simulate
from dialplan.hours import HoursCheck, check_hours
from dialplan.overflow import Overflow, decide_overflow
from dialplan.settings import FlowSettings
from dialplan.steps import Collect, Decision, FlowEvent, Play, Step
from dialplan.validation import validate

__all__ = [
    "CallFlow",
    "Collect",
    "Decision",
    "DidMatch",
    "FlowEvent",
    "FlowSettings",
    "HoursCheck",
    "Overflow",
    "Play",
    "Problem",
    "SettingsError",
    "SimulatedCall",
    "Step",
    "check_hours",
    "decide_overflow",
    "decide_transfer",
    "default_decision",
    "resolve_did",
    "simulate",
    "validate",
]
