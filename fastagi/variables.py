"""Channel variable names shared by the AGI routes and etc_asterisk/extensions.conf."""

from __future__ import annotations

# Set by the server, read by the dialplan (docs/architecture.md, "AGI routes").
CC_CARD_ID = "CC_CARD_ID"
CC_ACTION = "CC_ACTION"
CC_QUEUE = "CC_QUEUE"
CC_QUEUE_TIMEOUT = "CC_QUEUE_TIMEOUT"
CC_RECORDING = "CC_RECORDING"
CC_MESSAGE = "CC_MESSAGE"
CC_OPERATOR = "CC_OPERATOR"
#: A voicemail decision: the longest message Record() takes, in seconds.
CC_MESSAGE_MAX_SEC = "CC_MESSAGE_MAX_SEC"
#: Short reason a route failed; the dialplan goes on without CC_ACTION.
CC_ERROR = "CC_ERROR"
#: Set by the dialplan when Queue() returned and the call went on elsewhere.
CC_QUEUE_RETURNED = "CC_QUEUE_RETURNED"
#: Set by the dialplan just before Queue(): the caller got past the IVR.
CC_QUEUE_ENTERED = "CC_QUEUE_ENTERED"
#: Counted by the dialplan each time a queue gives the caller back unanswered.
CC_OVERFLOWS = "CC_OVERFLOWS"

# CC_ACTION values: what the dialplan does next after `incoming` / `transfer` / `overflow`.
ACTION_QUEUE = "queue"
ACTION_HANGUP = "hangup"
ACTION_VOICEMAIL = "voicemail"
ACTIONS = frozenset({ACTION_QUEUE, ACTION_HANGUP, ACTION_VOICEMAIL})

# Set by Asterisk, read by the routes.
QUEUESTATUS = "QUEUESTATUS"
DIALSTATUS = "DIALSTATUS"
MEMBERINTERFACE = "MEMBERINTERFACE"
HANGUPCAUSE = "HANGUPCAUSE"
ANSWEREDTIME = "ANSWEREDTIME"
#: How Record() ended a voicemail message: HANGUP, DTMF, SILENCE, TIMEOUT, SKIP, ERROR.
RECORD_STATUS = "RECORD_STATUS"

# Expressions for AgiCall.get_full_variable(): dialplan functions, not plain variables.
LINKEDID = "${CHANNEL(linkedid)}"
HANGUPSOURCE = "${CHANNEL(hangupsource)}"
#: Seconds since the channel was created (the CDR still exists in a hangup handler).
CDR_DURATION = "${CDR(duration)}"
ENDPOINT = "${CHANNEL(endpoint)}"
