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

from dialplan import Collect, FlowSettings, SettingsError, SimulatedCall, simulate
from dialplan.explain import describe, parse_keys
from models.flow import draft_document, latest_version
from webadmin.callflow.forms import SimulatorForm
from webadmin.extensions import db
from webadmin.permissions import require

REASONS: dict[str, LazyString] = {
    "did": _l("the DID enters this queue"),
    "ivr": _l("the key pressed chose it"),
    "ivr_default": _l("the menu's default once the retries ran out"),
    "ivr_hangup": _l("the menu says: message, then hang up"),
    "closed_hours": _l("closed: message, then hang up"),
    "closed_hours_queue": _l("closed: the closed-hours queue"),
    "unknown_did": _l("the number is not a known active DID: the default queue"),
    "unknown_queue": _l("the queue does not exist: the default queue"),
    "unknown_menu": _l("the menu does not exist: the default queue"),
    "unknown_schedule": _l("the business hours do not exist: the default queue"),
    "action_not_allowed": _l("an action not allowed there: the default queue"),
    "loop_guard": _l("too many prompts in one call: the default queue"),
    "error": _l("an error in the flow: the default queue"),
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
    return moment.replace(tzinfo=zone)


def _steps(call: SimulatedCall, keys: list[str | None]) -> list[Any]:
    """The steps with each prompt's answer next to it (the caller is silent once keys run out)."""
    answers = deque(keys)
    return [Answer(step, answers.popleft() if answers else None) if isinstance(step, Collect)
            else step for step in call.steps]


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
    if moment is not None:
        keys = parse_keys(form.keys.data or "")
        try:
            settings, source = load_flow(form.flow.data == "draft")
        except (LookupError, SettingsError) as error:
            form.flow.errors.append(str(error))
        else:
            call = simulate(settings, form.did.data.strip(), (form.caller.data or "").strip(),
                            moment, keys)
            queue = settings.queues.get(call.decision.queue or "")
            result = {"call": call, "source": source, "lines": describe(call),
                      "steps": _steps(call, keys), "queue": queue,
                      "reason": REASONS.get(call.decision.reason, call.decision.reason),
                      "hours": HOURS.get(call.hours.reason, call.hours.reason)
                      if call.hours else None}
    status = 200 if result is not None else 400
    return render_template("callflow/simulator.html", form=form, result=result), status
