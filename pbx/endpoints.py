"""Apply the operators' phones to Asterisk: write pjsip_callcards.conf, reload res_pjsip, check.

Like the queues (pbx.apply), through the same pbx.replace: the file is replaced atomically;
AMI then must list exactly the operator endpoints it defines. Anything else (any error at
all) puts the previous file back and reloads it, so a failed apply leaves Asterisk running the
phones it ran before, and says why.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcards.config import Settings
from models import User
from pbx.ami import AmiClient, AmiError, Connect
from pbx.endpoints_conf import ENDPOINTS_INCLUDE, EndpointSpec, expected_endpoints, render_endpoints
from pbx.files import include_path, locked, require_include
from pbx.queue_state import QueueAmi
from pbx.replace import Reload, replace_file
from pbx.steps import ApplyResult, Steps

log = logging.getLogger(__name__)

SUBJECT = "operator phones"


def endpoint_specs(session: Session) -> tuple[list[EndpointSpec], list[str]]:
    """The phones of active users with an extension and a phone password; notes on the rest."""
    specs, notes = [], []
    users = session.scalars(
        select(User).where(User.extension.is_not(None)).order_by(User.extension)
    )
    for user in users:
        if not user.active:
            continue
        if user.sip_password_digest is None:
            notes.append(f"{user.name} ({user.extension}) has no phone password yet: no phone")
            continue
        specs.append(
            EndpointSpec(
                extension=user.extension or "",
                name=user.name,
                phone_type=user.phone_type,
                password_digest=user.sip_password_digest,
            )
        )
    return specs, notes


def apply_endpoints(
    session: Session, settings: Settings, *, connect: Connect | None = None
) -> ApplyResult:
    """Write the operators' phones for Asterisk, reload res_pjsip, and check it took them."""
    steps = Steps(SUBJECT)
    try:
        live = include_path(settings, ENDPOINTS_INCLUDE)
        require_include(live, "pjsip.conf")
        specs, notes = endpoint_specs(session)
        text = render_endpoints(specs)
    except ValueError as error:
        return steps.failed(str(error))
    for note in notes:
        steps.note(note)
    with locked(live):
        old = live.read_text() if live.exists() else None
        try:
            with (connect or AmiClient.from_settings)(settings) as ami:
                return _replace(ami, live, old, text, steps)
        except AmiError as error:
            # Raised only while the file is untouched (_replace handles the rest itself).
            return steps.failed(f"{error}; nothing was changed")


def running_endpoints(ami: QueueAmi) -> set[str]:
    """Every PJSIP endpoint Asterisk runs now (AMI PJSIPShowEndpoints)."""
    try:
        events = ami.action_list("PJSIPShowEndpoints")
    except AmiError as error:
        if "No endpoints found" in str(error):
            return set()
        raise
    return {event["ObjectName"] for event in events if event.get("Event") == "EndpointList"}


def _reload(ami: QueueAmi) -> set[str]:
    """Make res_pjsip read pjsip.conf again; the endpoints it runs then."""
    ami.action("ModuleLoad", LoadType="reload", Module="res_pjsip.so")
    return running_endpoints(ami)


def _mismatches(running: set[str], wanted: set[str], gone: set[str]) -> list[str]:
    problems = [f"phone {name}: Asterisk has no such endpoint" for name in sorted(wanted - running)]
    problems += [
        f"phone {name}: still in Asterisk, though it was removed" for name in sorted(gone & running)
    ]
    return problems


def _replace(ami: QueueAmi, live: Path, old: str | None, text: str, steps: Steps) -> ApplyResult:
    """Confirm what runs, or write the new file, reload and check; the old file back on failure."""
    wanted = expected_endpoints(text)
    gone = expected_endpoints(old or "") - wanted
    if old == text:
        steps.note(f"{live.name} already says this")
        problems = _mismatches(running_endpoints(ami), wanted, gone)
        if not problems:
            return steps.done(changed=False)
        steps.note("Asterisk runs something else (" + "; ".join(problems) + "): reloading")
        try:
            problems = _mismatches(_reload(ami), wanted, gone)
        except AmiError as error:
            problems = [str(error)]
        if problems:
            return steps.failed("Asterisk did not take the phones: " + "; ".join(problems))
        return steps.done(changed=True)

    def reload_old() -> str:
        _reload(ami)
        return f"the previous {live.name} is back in place"

    return replace_file(
        live,
        old,
        text,
        steps,
        Reload(
            check_new=lambda: _mismatches(_reload(ami), wanted, gone),
            reload_old=reload_old,
            asked="asked Asterisk to reload res_pjsip (AMI ModuleLoad reload)",
            took="Asterisk runs the phones: " + (", ".join(sorted(wanted)) or "none"),
            what="the phones",
        ),
    )
