"""Words shown for stored codes: roles, statuses, directions, end reasons, timeline events."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from dialplan.timeline import TimelineKind
from live.tracker import MISSED_REASON, WRAPUP_REASON
from pbx.pause import LOGGED_OUT_REASON

ROLES: dict[str, LazyString] = {
    "operator": _l("operator"),
    "supervisor": _l("supervisor"),
    "admin": _l("administrator"),
}

PHONE_TYPES: dict[str, LazyString] = {
    "webrtc": _l("browser phone (WebRTC)"),
    "deskphone": _l("desk or soft phone (SIP over UDP)"),
}

STATUSES: dict[str, LazyString] = {
    "ringing": _l("ringing"),
    "answered": _l("answered"),
    "missed": _l("missed"),
    "abandoned": _l("abandoned"),
    "busy": _l("busy"),
    "failed": _l("failed"),
    "callback_requested": _l("callback requested"),
}

TASK_REASONS: dict[str, LazyString] = {
    "missed": _l("missed call"),
    "abandoned": _l("hung up while waiting"),
    "voicemail": _l("left a message"),
    "out_of_hours": _l("called out of hours"),
    "marked": _l("marked by an operator"),
    "callback_requested": _l("asked to be called back"),
}

TASK_OUTCOMES: dict[str, LazyString] = {
    "reached": _l("reached"),
    "no_answer": _l("no answer"),
    "busy": _l("busy"),
    "wrong_number": _l("wrong number"),
    "do_not_call": _l("asked not to be called"),
    "got_through": _l("got through on their own"),
    "unreachable": _l("unreachable: attempts ran out"),
}

DIRECTIONS: dict[str, LazyString] = {
    "inbound": _l("inbound"),
    "outbound": _l("outbound"),
}

END_REASONS: dict[str, LazyString] = {
    "caller_hangup": _l("the caller hung up"),
    "operator_hangup": _l("the operator hung up"),
    "caller_hangup_ivr": _l("the caller hung up in the voice menu"),
    "caller_hangup_queue": _l("the caller hung up while waiting"),
    "queue_timeout": _l("nobody answered in time"),
    "no_operator": _l("no operator available"),
    "no_operator_left": _l("the last operator left while the caller waited"),
    "queue_full": _l("the queue was full"),
    "closed_hours": _l("outside business hours"),
    "ivr_hangup": _l("the voice menu ended the call"),
    "busy": _l("busy"),
    "congestion": _l("the network was congested"),
    "unavailable": _l("the number was unavailable"),
    "no_answer": _l("no answer"),
    "cancelled": _l("cancelled"),
    "number_not_allowed": _l("the number is not allowed for outgoing calls"),
    "number_too_long": _l("the number has too many digits"),
    "number_empty": _l("no number was dialled"),
    "callback_requested": _l("the caller asked to be called back"),
    "no_asterisk_record": _l("closed by reconcile: no record of the call in Asterisk"),
    "unreadable_asterisk_record": _l(
        "closed by reconcile: Asterisk's record of the call could not be read"
    ),
}

EVENTS: dict[str, LazyString] = {
    TimelineKind.CALL_STARTED: _l("call came in"),
    TimelineKind.CREATED: _l("card created"),
    TimelineKind.CARD_CREATED_LATE: _l("card made at hang-up (the server missed the start)"),
    TimelineKind.CARD_REBUILT_FROM_CEL: _l("card rebuilt from Asterisk's records"),
    TimelineKind.CARD_CLOSED_FROM_CEL: _l(
        "card closed from Asterisk's records (its hang-up was missed)"
    ),
    TimelineKind.RECORDING_FROM_DIALPLAN: _l("recording file named by Asterisk without the server"),
    TimelineKind.ANSWER_TIME_UNKNOWN: _l("answer time not known at hang-up (taken as the hang-up)"),
    TimelineKind.ANSWER_FROM_CEL: _l("answer time corrected from Asterisk's records"),
    TimelineKind.DID: _l("number dialled"),
    TimelineKind.HOURS: _l("business hours checked"),
    TimelineKind.CLOSED_HOURS: _l("outside business hours"),
    TimelineKind.IVR_ENTERED: _l("entered the voice menu"),
    TimelineKind.IVR_PROMPT: _l("heard a prompt"),
    TimelineKind.IVR_KEY: _l("pressed a key"),
    TimelineKind.IVR_TIMEOUT: _l("pressed nothing"),
    TimelineKind.IVR_INVALID: _l("pressed a wrong key"),
    TimelineKind.IVR_BACK: _l("went back a menu"),
    TimelineKind.IVR_RETRIES_EXHAUSTED: _l("no choice after the retries"),
    TimelineKind.IVR_HANGUP: _l("menu ended the call"),
    TimelineKind.CALLER_LEFT_IVR: _l("hung up in the voice menu"),
    TimelineKind.FALLBACK: _l("sent to the default queue"),
    TimelineKind.QUEUE_CHOSEN: _l("queue chosen"),
    TimelineKind.ROUTE: _l("route decided"),
    TimelineKind.QUEUE_JOINED: _l("joined a queue"),
    TimelineKind.QUEUE_OVERFLOW: _l("queue could not answer"),
    TimelineKind.QUEUE_FROM_DIALPLAN: _l("queued by Asterisk without the server's answer"),
    TimelineKind.OPERATOR_RANG: _l("operator's phone rang"),
    TimelineKind.ANSWERED: _l("answered"),
    TimelineKind.TRANSFERRED: _l("transferred"),
    TimelineKind.HOLD: _l("put on hold"),
    TimelineKind.UNHOLD: _l("taken off hold"),
    TimelineKind.HANGUP: _l("hung up"),
    TimelineKind.MESSAGE_LEFT: _l("left a message"),
    TimelineKind.NO_MESSAGE: _l("left no message"),
    TimelineKind.OUTBOUND: _l("outbound call placed"),
    TimelineKind.OUTBOUND_DIAL: _l("outbound call placed"),
    TimelineKind.OUTBOUND_REFUSED: _l(
        "the number was refused: it is not allowed for outgoing calls"
    ),
    TimelineKind.CALLBACK_REQUESTED: _l("asked to be called back"),
}

#: Asterisk's queue strategies (dialplan.settings.STRATEGIES), as an admin reads them.
STRATEGIES: dict[str, LazyString] = {
    "rrmemory": _l("in turn, remembering who was rung last"),
    "ringall": _l("all operators at once"),
    "leastrecent": _l("the operator who finished a call longest ago"),
    "fewestcalls": _l("the operator with the fewest calls"),
    "random": _l("an operator at random"),
    "linear": _l("in the listed order, always from the first"),
    "wrandom": _l("at random, weighted by penalty"),
    "rrordered": _l("in turn, in the listed order"),
}

AUDIT_ACTIONS: dict[str, LazyString] = {
    "recording.listen": _l("listened to a recording"),
    "recording.download": _l("downloaded a recording"),
    "card.complete": _l("completed a card"),
    "card.edit": _l("edited a completed card"),
    "auth.login_failed": _l("failed to sign in"),
    "dictionary.change": _l("changed a dictionary"),
    "user.change": _l("changed a user"),
    "user.password": _l("reset a password"),
    "user.phone_password": _l("made a phone password"),
    "operator.pause": _l("went on a break"),
    "operator.ready": _l("came back from a break"),
    "operator.supervisor_pause": _l("pause of an operator by a supervisor"),
    "operator.supervisor_ready": _l("return of an operator to the queues by a supervisor"),
    "operator.supervisor_logout": _l("logout of an operator from the queues by a supervisor"),
    "callflow.change": _l("changed the call-flow draft"),
    "callflow.publish": _l("published the call flow"),
    "callflow.rollback": _l("rolled the call flow back"),
    "callflow.apply": _l("sent the queues to Asterisk"),
}


def label(table: dict[str, LazyString], code: str | None) -> str:
    """The word for a code, or the code itself when it is new to the site."""
    if code is None:
        return ""
    return str(table[code]) if code in table else code


#: Why an operator steps away: the word app_queue keeps (PausedReason), and its words here.
PAUSE_REASONS: dict[str, LazyString] = {
    "break": _l("Break"),
    "lunch": _l("Lunch"),
    "training": _l("Training"),
    "paperwork": _l("Paperwork"),
}

#: Pauses the system makes (live/tracker.py, pbx/pause.py): shown, never offered as a choice.
SYSTEM_PAUSE_REASONS: dict[str, LazyString] = {
    WRAPUP_REASON: _l("Wrap-up"),
    MISSED_REASON: _l("Missed calls"),
    LOGGED_OUT_REASON: _l("Logged out"),
}


def pause_reason(reason: str) -> str:
    """A pause reason in the reader's language (Asterisk's word if it is not one of ours)."""
    return str(PAUSE_REASONS.get(reason) or SYSTEM_PAUSE_REASONS.get(reason, reason))


def pause_reason_or_none(reason: str) -> str:
    """A recorded pause's reason as a report names it: the reader's word, or that none was
    given."""
    return pause_reason(reason) if reason else str(_l("No reason given"))
