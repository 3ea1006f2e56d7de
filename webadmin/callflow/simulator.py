"""The route simulator: a made-up call walked through the flow by the functions live calls use."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from dialplan import Collect, Decision, FlowSettings, SettingsError, SimulatedCall, simulate
from dialplan.explain import describe, parse_keys, parse_queue_outcomes
from dialplan.overflow import QUEUE_OUTCOMES
from dialplan.timeline import TimelineKind
from models.flow import draft_document, latest_version
from webadmin.callflow.forms import SimulatorForm
from webadmin.extensions import db
from webadmin.inputs import within_years, years_message
from webadmin.permissions import require

REASONS: dict[str, LazyString] = {
    "did": _l("the DID enters this queue"),
    "ivr": _l("the key pressed chose it"),
    "ivr_default": _l("the menu's default once the retries ran out"),
    "ivr_hangup": _l("the menu says: message, then hang up"),
    "closed_hours": _l("closed: message, then hang up"),
    "closed_hours_queue": _l("closed: the closed-hours queue"),
    "closed_hours_voicemail": _l("closed: the caller leaves a message"),
    "unknown_did": _l("the number is not a known active DID: the default queue"),
    "unknown_queue": _l("the queue does not exist: the default queue"),
    "unknown_menu": _l("the menu does not exist: the default queue"),
    "unknown_schedule": _l("the business hours do not exist: the default queue"),
    "action_not_allowed": _l("an action not allowed there: the default queue"),
    "loop_guard": _l("too many prompts in one call: the default queue"),
    "error": _l("an error in the flow: the default queue"),
    "overflow_empty": _l("no operator could take the call: the queue's choice for that"),
    "overflow_timeout": _l("the longest wait ran out: the queue's choice for that"),
    "overflow_fallback": _l("the queue gave the call back: the default queue"),
    "overflow_unknown_queue": _l("the overflow queue does not exist: the default queue"),
    "overflow_limit": _l("too many queues in one call: hang up"),
}
OUTCOMES: dict[str, LazyString] = {
    "empty": _l("no operator could take the call"),
    "timeout": _l("the longest wait ran out"),
    "unknown": _l("the queue gave the call back"),
}
HOURS: dict[str, LazyString] = {
    "override_open": _l("open by the manual override"),
    "override_closed": _l("closed by the manual override"),
    "exception_closed": _l("closed all day by an exception"),
    "exception_hours": _l("the exception's hours for this date"),
    "holiday": _l("a holiday"),
    "weekly": _l("within the weekly hours"),
    "outside_weekly": _l("outside the weekly hours"),
}


@dataclass(frozen=True)
class Answer:
    """A menu prompt and what the simulated caller did at it."""

    step: Collect
    keys: str | None


@dataclass(frozen=True)
class QueueReturn:
    """A queue the call reached that gave it back unanswered, and why."""

    queue: str
    why: str


def load_flow(draft: bool) -> tuple[FlowSettings, str]:
    """The published flow (what calls follow now) or the draft; LookupError if none is published."""
    if draft:
        return FlowSettings.from_document(draft_document(db.session())), _("draft")
    version = latest_version(db.session())
    if version is None:
        raise LookupError(_("No call flow has been published yet: try the draft."))
    return FlowSettings.from_document(version.document), _("version %(id)d", id=version.id)


def _moment(form: SimulatorForm) -> datetime | None:
    try:
        zone = ZoneInfo((form.timezone.data or "").strip())
    except (ZoneInfoNotFoundError, ValueError):
        form.timezone.errors.append(_("Unknown time zone: use a name like Europe/Moscow."))
        return None
    try:
        moment = datetime.fromisoformat(f"{form.day.data.strip()}T{form.at.data.strip()}")
    except ValueError:
        form.at.errors.append(_("Give a date like 2026-03-02 and a time like 09:30."))
        return None
    if not within_years(moment):  # at the calendar's edges a zone shift overflows
        form.day.errors.append(years_message())
        return None
    return moment.replace(tzinfo=zone)


def _steps(call: SimulatedCall, keys: list[str | None]) -> list[Any]:
    """The steps with each prompt's answer next to it (the caller is silent once keys run out).

    A queue that gave the call back shows why, before where the call went next.
    """
    answers = deque(keys)
    returns = deque(
        event.data for event in call.events if event.kind == TimelineKind.QUEUE_OVERFLOW
    )
    steps: list[Any] = []
    for index, step in enumerate(call.steps):
        if isinstance(step, Collect):
            steps.append(Answer(step, answers.popleft() if answers else None))
        elif isinstance(step, Decision) and index < len(call.steps) - 1 and returns:
            back = returns.popleft()
            steps.append(
                QueueReturn(
                    back["from_queue"], str(OUTCOMES.get(back["condition"], back["condition"]))
                )
            )
        else:
            steps.append(step)
    return steps


def _defaults(form: SimulatorForm) -> None:
    zone = ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])
    now = datetime.now(zone)
    form.timezone.data = zone.key
    form.day.data, form.at.data = now.date().isoformat(), now.strftime("%H:%M")
    document = draft_document(db.session())
    form.did.data = document["dids"][0]["number"] if document["dids"] else ""


@require("admin.callflow")
def index() -> tuple[str, int]:
    """The simulator form and, once sent, the call step by step."""
    form = SimulatorForm(formdata=request.args or None)
    result: dict[str, Any] | None = None
    if not request.args:
        _defaults(form)
        return render_template("callflow/simulator.html", form=form, result=None), 200
    moment = _moment(form) if form.validate() else None
    outcomes = parse_queue_outcomes(form.queues.data or "")
    wrong = [outcome for outcome in outcomes if outcome not in QUEUE_OUTCOMES]
    if wrong:
        form.queues.errors.append(
            _("“%(word)s” is not one of: answered, empty, timeout.", word=wrong[0])
        )
        moment = None
    if moment is not None:
        keys = parse_keys(form.keys.data or "")
        try:
            settings, source = load_flow(form.flow.data == "draft")
        except (LookupError, SettingsError) as error:
            form.flow.errors.append(str(error))
        else:
            call = simulate(
                settings,
                form.did.data.strip(),
                (form.caller.data or "").strip(),
                moment,
                keys,
                outcomes,
            )
            queue = settings.queues.get(call.decision.queue or "")
            result = {
                "call": call,
                "source": source,
                "lines": describe(call, settings),
                "steps": _steps(call, keys),
                "queue": queue,
                "reason": REASONS.get(call.decision.reason, call.decision.reason),
                "hours": HOURS.get(call.hours.reason, call.hours.reason) if call.hours else None,
            }
    status = 200 if result is not None else 400
    return render_template("callflow/simulator.html", form=form, result=result), status
