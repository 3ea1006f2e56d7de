"""`callcards route`: what a call will do, step by step, by the same functions live calls use.

`--queues empty,timeout` says what each queue the call reaches does (answered, empty or
timeout; once they run out the queue answers), to see the queues' overflow.
"""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from dialplan import FlowSettings, simulate
from dialplan.explain import describe, parse_keys, parse_queue_outcomes
from models.flow import draft_document, latest_version


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


def run_simulation(
    session: Session,
    *,
    did: str,
    caller: str,
    when: str | None,
    keys: str,
    draft: bool,
    queues: str = "",
    as_json: bool,
    zone: str = "Europe/Moscow",
) -> str:
    """The text (or JSON) the command prints."""
    settings, source = load_flow(session, draft=draft)
    call = simulate(
        settings,
        did,
        caller,
        parse_when(when, zone),
        parse_keys(keys),
        parse_queue_outcomes(queues),
    )
    if as_json:
        return json.dumps(
            {
                "flow": source,
                "decision": {
                    "action": call.decision.action,
                    "queue": call.decision.queue,
                    "reason": call.decision.reason,
                    **(
                        {"max_message_sec": call.decision.max_message_sec}
                        if call.decision.action == "voicemail"
                        else {}
                    ),
                },
                "ivr_path": call.ivr_path,
                "queues": call.queues,
                "callback_offers": {
                    name: settings.queues[name].callback_offer.sentence()
                    for name in call.queues
                    if name in settings.queues and settings.queues[name].callback_offer.on
                },
                "events": [{"kind": event.kind, **event.data} for event in call.events],
            },
            ensure_ascii=False,
            indent=2,
        )
    return "\n".join([f"call flow: {source}", *describe(call, settings)])
