"""Click-to-call from the site: the checks before AMI, and a message a person can act on."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from flask_babel import gettext as _

from callcards.config import Settings
from dialplan.numbers import Refusal, check_outbound, digits_of, read_patterns
from models import User
from pbx.ami import AmiError
from pbx.callout import CallOut, PhoneUnavailable
from pbx.client import PbxClient


@dataclass(frozen=True)
class Dialled:
    """What a click gave: the call's linkedid, or why nothing rings (and the HTTP status)."""

    linkedid: str | None
    refusal: str = ""
    status: int = 200


def refusal_message(refusal: Refusal) -> str:
    """Why the allowlist refuses a number, for the operator."""
    if refusal is Refusal.NO_DIGITS:
        return _("There is no number to call.")
    if refusal is Refusal.TOO_LONG:
        return _("The number has too many digits.")
    return _("This number is not allowed for outgoing calls (premium or international).")


def click_to_call(operator: User, number: str, shown_number: str | None, label: str) -> Dialled:
    """Ring the operator's phone, then `number`; refused before AMI when it cannot work."""
    settings: Settings = current_app.config["CALLCARDS_SETTINGS"]
    refusal = check_outbound(number, read_patterns(settings.outbound_numbers))
    if refusal is not None:
        return Dialled(None, refusal_message(refusal), 422)
    if not operator.extension:
        return Dialled(None, _("You have no phone to call from: ask an admin for one."), 409)
    pbx: PbxClient | None = current_app.extensions.get("pbx")
    if pbx is None:
        return Dialled(None, _("The site does not reach Asterisk (no AMI is set)."), 503)
    call = CallOut(operator.extension, digits_of(number), shown_number, label)
    try:
        return Dialled(pbx.call_out(call))
    except PhoneUnavailable:
        return Dialled(
            None, _("Your phone is not registered: start it or the browser phone, then retry."), 409
        )
    except AmiError:
        current_app.logger.exception("click-to-call: AMI refused or is away")
        return Dialled(None, _("Asterisk cannot be reached now; nothing was dialled."), 503)
