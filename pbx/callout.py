"""Click-to-call: the operator's own phone rings first, then the customer (AMI Originate).

Originate rings the operator's queue interface (their desk or browser phone); once they
answer, their channel runs [cc-outbound] with the customer's number, so the call gets its
card and recording like any call the operator dials. The originate names the channel's
unique id (`ChannelId`), which becomes the call's linkedid: the card is found by it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from callcards.config import Settings
from pbx.ami import AmiClient, AmiError
from pbx.queue_state import QueueAmi
from pbx.queues_conf import member_interface

#: Seconds the operator's phone rings before the originate gives up.
RING_OPERATOR_SEC = 30
#: Seconds the site waits for AMI: the click must answer quickly either way.
CALL_OUT_TIMEOUT = 3.0
#: DEVICE_STATE values of a phone that cannot ring (not registered, unknown endpoint).
_UNREACHABLE = frozenset({"UNAVAILABLE", "INVALID"})
#: The dialplan context an operator's outside call runs in (etc_asterisk/extensions.conf).
OUTBOUND_CONTEXT = "cc-outbound"


class PhoneUnavailable(AmiError):
    """The operator's phone is not registered: nothing would ring."""


@dataclass(frozen=True)
class CallOut:
    """A call to place: whose phone rings first, the customer's number, what they see."""

    extension: str  # the operator's
    number: str  # the customer's, already allowed by dialplan.numbers
    shown_number: str | None = None  # the queue's outgoing caller id (None: the trunk's)
    label: str = ""  # shown on the operator's phone while it rings


def call_out(ami: QueueAmi, interface: str, call: CallOut) -> str:
    """Ring the operator's phone, then the customer; the call's linkedid (AmiError if not)."""
    device = interface.removesuffix("/n")
    state = ami.action("Getvar", Variable=f"DEVICE_STATE({device})").get("Value", "")
    if state.upper() in _UNREACHABLE:
        raise PhoneUnavailable(f"the phone {call.extension} is not registered ({state})")
    linkedid = f"cc-out-{uuid.uuid4().hex}"
    fields = {
        "Channel": interface,
        "Context": OUTBOUND_CONTEXT,
        "Exten": call.number,
        "Priority": "1",
        # CALLERID(num) stays the operator's extension: the outbound route finds its
        # operator by it; the name shows whom they are about to call.
        "CallerID": f'"{_clean(call.label or call.number)}" <{call.extension}>',
        "Timeout": str(RING_OPERATOR_SEC * 1000),
        "ChannelId": linkedid,
        "OtherChannelId": f"{linkedid}-2",
        "Async": "true",
    }
    if call.shown_number:
        fields["Variable"] = f"CC_OUTBOUND_CALLERID={call.shown_number}"
    ami.action("Originate", **fields)
    return linkedid


def _clean(text: str) -> str:
    """A caller-id name without the quotes and brackets that would break the header."""
    return "".join(c for c in text if c not in '"<>\r\n')[:40]


def call_out_from_settings(settings: Settings, call: CallOut) -> str:
    """call_out over a short AMI session of the site (CALLCARDS_AMI_*)."""
    interface = member_interface(settings.member_interface, call.extension)
    with AmiClient.from_settings(settings, timeout=CALL_OUT_TIMEOUT) as ami:
        return call_out(ami, interface, call)
