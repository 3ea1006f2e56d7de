"""The kinds of entry on a call card's timeline, in one place."""

from __future__ import annotations

from enum import StrEnum


class TimelineKind(StrEnum):
    """Every kind of entry on a card's timeline (call_events.kind): the one list of them.

    The call flow, the FastAGI routes, the card store and reconcile write them;
    webadmin/labels.py and webadmin/words.py give each one its words.
    """

    CALL_STARTED = "call_started"
    CREATED = "created"
    CARD_CREATED_LATE = "card_created_late"
    CARD_REBUILT_FROM_CEL = "card_rebuilt_from_cel"
    CARD_CLOSED_FROM_CEL = "card_closed_from_cel"
    RECORDING_FROM_DIALPLAN = "recording_from_dialplan"
    ANSWER_TIME_UNKNOWN = "answer_time_unknown"
    ANSWER_FROM_CEL = "answer_from_cel"
    DID = "did"
    HOURS = "hours"
    CLOSED_HOURS = "closed_hours"
    IVR_ENTERED = "ivr_entered"
    IVR_PROMPT = "ivr_prompt"
    IVR_KEY = "ivr_key"
    IVR_TIMEOUT = "ivr_timeout"
    IVR_INVALID = "ivr_invalid"
    IVR_BACK = "ivr_back"
    IVR_RETRIES_EXHAUSTED = "ivr_retries_exhausted"
    IVR_HANGUP = "ivr_hangup"
    CALLER_LEFT_IVR = "caller_left_ivr"
    FALLBACK = "fallback"
    QUEUE_CHOSEN = "queue_chosen"
    ROUTE = "route"
    QUEUE_JOINED = "queue_joined"
    QUEUE_OVERFLOW = "queue_overflow"
    QUEUE_FROM_DIALPLAN = "queue_from_dialplan"
    OPERATOR_RANG = "operator_rang"
    ANSWERED = "answered"
    TRANSFERRED = "transferred"
    HOLD = "hold"
    UNHOLD = "unhold"
    HANGUP = "hangup"
    MESSAGE_LEFT = "message_left"
    NO_MESSAGE = "no_message"
    OUTBOUND = "outbound"
    OUTBOUND_DIAL = "outbound_dial"
    #: The caller left the queue asking to be called back (virtual hold).
    CALLBACK_REQUESTED = "callback_requested"
    #: An outbound number the allowlist refused (dialplan.numbers): nothing was dialled.
    OUTBOUND_REFUSED = "outbound_refused"
