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
#: Short reason a route failed; the dialplan goes on without CC_ACTION.
CC_ERROR = "CC_ERROR"
#: Set by the dialplan when Queue() returned and the call went on elsewhere.
CC_QUEUE_RETURNED = "CC_QUEUE_RETURNED"
#: Set by the dialplan just before Queue(): the caller got past the IVR.
CC_QUEUE_ENTERED = "CC_QUEUE_ENTERED"

# CC_ACTION values: what the dialplan does next after `incoming` / `transfer`.
ACTION_QUEUE = "queue"
ACTION_HANGUP = "hangup"
ACTIONS = frozenset({ACTION_QUEUE, ACTION_HANGUP})

# Set by Asterisk, read by the routes.
QUEUESTATUS = "QUEUESTATUS"
DIALSTATUS = "DIALSTATUS"
MEMBERINTERFACE = "MEMBERINTERFACE"
HANGUPCAUSE = "HANGUPCAUSE"
ANSWEREDTIME = "ANSWEREDTIME"

# Expressions for AgiCall.get_full_variable(): dialplan functions, not plain variables.
LINKEDID = "${CHANNEL(linkedid)}"
HANGUPSOURCE = "${CHANNEL(hangupsource)}"
#: Seconds since the channel was created (the CDR still exists in a hangup handler).
CDR_DURATION = "${CDR(duration)}"
ENDPOINT = "${CHANNEL(endpoint)}"
