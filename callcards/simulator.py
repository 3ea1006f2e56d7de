"""`callcards route`: what a call will do, step by step, by the same functions live calls use."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dialplan import Collect, Decision, FlowSettings, Play, SimulatedCall, simulate
from models.flow import draft_document, latest_version


def parse_keys(text: str) -> list[str | None]:
    """'1,,9' -> ['1', None, '9']: one answer per prompt; an empty one is silence (timeout)."""
    if not text:
        return []
    return [part.strip() or None for part in text.split(",")]


def parse_when(text: str | None, zone: str) -> datetime:
    """An ISO date-time; without an offset it is read in `zone`; None is now."""
    if not text:
        return datetime.now(ZoneInfo(zone))
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


def load_flow(session: Session, *, draft: bool) -> tuple[FlowSettings, str]:
    """The published flow (what calls follow now) or the admin's unpublished draft."""
    if draft:
        return FlowSettings.from_document(draft_document(session)), "draft"
    version = latest_version(session)
    if version is None:
        raise LookupError("no call flow has been published yet (try --draft)")
    return FlowSettings.from_document(version.document), f"version {version.id}"


def describe(call: SimulatedCall) -> list[str]:
    """One line per step a caller would live through."""
    lines = [
        f"DID {call.did.dialed}: "
        + (f"{call.did.source or '-'} / {call.did.city or '-'}" if call.did.known else "unknown")
    ]
    if call.hours is not None:
        lines.append(f"hours: {'open' if call.hours.open else 'closed'} ({call.hours.reason})")
    for step in call.steps:
        if isinstance(step, Collect):
            lines.append(
                f"menu {step.menu}, try {step.attempt}: play {step.prompt}, "
                f"wait {step.timeout_ms / 1000:g} s for {step.max_digits} key(s)"
            )
        elif isinstance(step, Play):
            lines.append(f"play {step.prompt}")
        elif isinstance(step, Decision):
            if step.action == "queue":
                lines.append(
                    f"=> queue {step.queue} (wait up to {step.queue_timeout or '-'} s) "
                    f"[{step.reason}]"
                )
            else:
                lines.append(f"=> hang up [{step.reason}]")
    lines.append("IVR path: " + (" > ".join(call.ivr_path) or "-"))
    return lines


def run_simulation(
    session: Session,
    *,
    did: str,
    caller: str,
    when: str | None,
    keys: str,
    draft: bool,
    as_json: bool,
    zone: str = "Europe/Moscow",
) -> str:
    """The text (or JSON) the command prints."""
    settings, source = load_flow(session, draft=draft)
    call = simulate(settings, did, caller, parse_when(when, zone), parse_keys(keys))
    if as_json:
        return json.dumps({
            "flow": source,
            "decision": {
                "action": call.decision.action, "queue": call.decision.queue,
                "reason": call.decision.reason,
            },
            "ivr_path": call.ivr_path,
            "events": [{"kind": event.kind, **event.data} for event in call.events],
        }, ensure_ascii=False, indent=2)
    return "\n".join([f"call flow: {source}", *describe(call)])
