"""What Asterisk's CEL rows (cel_pgsql, table asterisk_cel) say about one call.

The FastAGI server misses steps of a call when it is down; Asterisk does not. A card the
server could not follow (answered, hung up or recorded while it was away) is completed
from these facts: by the hangup route for the answer it did not see, and by
`callcards reconcile` for the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from models import AsteriskCel

CEL: Table = AsteriskCel.__table__  # type: ignore[assignment]

TRUNK_CONTEXT = "from-trunk"
#: The contexts where our dialplan runs the caller's channel (it answered and queued).
_CALLER_CONTEXTS = {TRUNK_CONTEXT, "cc-queue", "cc-fallback", "cc-action"}
# The recording's name the server or the fallback dialplan chose, inside MixMonitor's path.
_RECORDING = re.compile(r"((?:fallback/)?\d{4}/\d{2}/\d{2}/[^/,]+\.wav)")


@dataclass(frozen=True)
class CelRow:
    """One CEL row, as much of it as a card needs."""

    eventtype: str
    eventtime: datetime
    channame: str
    uniqueid: str
    linkedid: str
    appname: str = ""
    appdata: str = ""
    context: str = ""
    exten: str = ""
    cid_num: str = ""
    cid_name: str = ""
    peer: str = ""
    extra: str = ""

    def extra_json(self) -> dict[str, Any]:
        """The row's `extra` (JSON for HANGUP and bridge events), or nothing."""
        try:
            value = json.loads(self.extra) if self.extra else {}
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}


@dataclass(frozen=True)
class CallFacts:
    """One call as its caller's channel lived it in Asterisk."""

    linkedid: str
    uniqueid: str
    started_at: datetime
    caller_number: str | None
    caller_name: str | None
    did: str | None
    queue: str | None  # the last queue the caller was put in
    queue_entered_at: datetime | None  # the first Queue() the caller entered
    answered_at: datetime | None  # the caller entered a bridge with an operator
    member: str | None  # the operator's channel in that bridge
    ended_at: datetime | None  # the caller's HANGUP (or CHAN_END)
    hangup_source: str
    cause: str
    recording: str | None  # the file MixMonitor (or Record) was given
    call_over: bool  # LINKEDID_END: every channel of the call is gone

    @property
    def dialplan_ended(self) -> bool:
        """The dialplan's own Hangup() after Queue() returned: nobody answered in time."""
        return self.hangup_source.startswith("dialplan/")


def row_of(cel: Any) -> CelRow:
    """A CelRow from an asterisk_cel row (ORM object or Core row)."""
    moment = cel.eventtime
    if moment is None:
        raise ValueError("a CEL row without a time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.now().astimezone().tzinfo)
    return CelRow(
        eventtype=cel.eventtype or "",
        eventtime=moment,
        channame=cel.channame or "",
        uniqueid=cel.uniqueid or "",
        linkedid=cel.linkedid or "",
        appname=cel.appname or "",
        appdata=cel.appdata or "",
        context=cel.context or "",
        exten=cel.exten or "",
        cid_num=cel.cid_num or "",
        cid_name=cel.cid_name or "",
        peer=cel.peer or "",
        extra=cel.extra or "",
    )


def read_rows(db: Connection, linkedid: str) -> list[CelRow]:
    """The CEL rows of one call, in the order Asterisk wrote them."""
    rows = db.execute(
        select(CEL).where(CEL.c.linkedid == linkedid).order_by(CEL.c.eventtime, CEL.c.id)
    )
    return [row_of(row) for row in rows]


def caller_channel(rows: Iterable[CelRow]) -> str | None:
    """The channel that ran our dialplan from the trunk (it answered and queued)."""
    for row in rows:
        if (
            row.eventtype == "APP_START"
            and row.appname in {"Queue", "AGI", "Answer"}
            and (row.context in _CALLER_CONTEXTS)
        ):
            return row.channame
    return None


def _bridge_id(row: CelRow) -> str:
    return str(row.extra_json().get("bridge_id", ""))


def facts_of(linkedid: str, rows: list[CelRow]) -> CallFacts | None:
    """The call's facts from its CEL rows; None when no row shows our dialplan's caller."""
    channel = caller_channel(rows)
    if channel is None:
        return None
    own = [row for row in rows if row.channame == channel]
    start = next((row for row in own if row.eventtype == "CHAN_START"), own[0])
    queues = [row for row in own if row.eventtype == "APP_START" and row.appname == "Queue"]
    bridge = next((row for row in own if row.eventtype == "BRIDGE_ENTER"), None)
    member = _member(rows, channel, bridge) if bridge is not None else None
    if member is None:
        bridge = None  # a bridge with nobody else in it is no answer
    monitor = next(
        (
            row
            for row in own
            if row.eventtype == "APP_START" and row.appname in {"MixMonitor", "Record"}
        ),
        None,
    )
    recording = _RECORDING.search(monitor.appdata) if monitor else None
    hangup = next((row for row in own if row.eventtype == "HANGUP"), None)
    end = hangup or next((row for row in own if row.eventtype == "CHAN_END"), None)
    extra = hangup.extra_json() if hangup else {}
    return CallFacts(
        linkedid=linkedid,
        uniqueid=start.uniqueid or linkedid,
        started_at=start.eventtime,
        caller_number=next((row.cid_num for row in own if row.cid_num), None),
        caller_name=start.cid_name or None,
        did=start.exten or None,
        queue=queues[-1].appdata.split(",")[0] if queues else None,
        queue_entered_at=queues[0].eventtime if queues else None,
        answered_at=bridge.eventtime if bridge else None,
        member=member,
        ended_at=end.eventtime if end else None,
        hangup_source=str(extra.get("hangupsource", "")),
        cause=str(extra.get("hangupcause", "")),
        recording=recording.group(1) if recording else None,
        call_over=any(row.eventtype == "LINKEDID_END" for row in rows),
    )


def _member(rows: list[CelRow], caller: str, bridge: CelRow) -> str | None:
    """The operator's channel in the caller's first bridge (whoever entered it first)."""
    if bridge.peer:
        return bridge.peer.split(",")[0]
    bridge_id = _bridge_id(bridge)
    return next(
        (
            row.channame
            for row in rows
            if row.eventtype == "BRIDGE_ENTER"
            and row.channame != caller
            and bridge_id
            and _bridge_id(row) == bridge_id
        ),
        None,
    )
