"""`callcards reconcile`: cards for calls the FastAGI server never saw, rebuilt from CEL.

When the server is down, the dialplan still queues and records every call (its fallback);
Asterisk's CEL rows (cel_pgsql, table asterisk_cel) keep what happened. A finished call
(LINKEDID_END) from the trunk with no card gets one, through the same `hang_up` the
server uses for a late card.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from fastagi.cards import CardStore, HangupReport, NewCall
from models import AsteriskCel, Call, Direction

TRUNK_CONTEXT = "from-trunk"
# The recordings name the server or the fallback dialplan chooses, inside MixMonitor's path.
_RECORDING = re.compile(r"((?:fallback/)?\d{4}/\d{2}/\d{2}/[^/,]+\.wav)")


@dataclass
class CallTrace:
    """The CEL rows of one call (one linkedid), in order."""

    linkedid: str
    rows: list[AsteriskCel] = field(default_factory=list)

    def caller_channel(self) -> str | None:
        """The channel that ran our dialplan from the trunk (it answered and queued)."""
        for row in self.rows:
            if row.eventtype == "APP_START" and row.appname in {"Queue", "AGI", "Answer"} and (
                row.context in {TRUNK_CONTEXT, "cc-queue", "cc-fallback", "cc-action"}
            ):
                return row.channame
        return None


def _rebuild(trace: CallTrace) -> HangupReport | None:
    channel = trace.caller_channel()
    if channel is None:
        return None
    own = [row for row in trace.rows if row.channame == channel]
    start = next((row for row in own if row.eventtype == "CHAN_START"), own[0])
    end = next((row for row in reversed(own) if row.eventtype in {"CHAN_END", "HANGUP"}), own[-1])
    queue_start = next((row for row in own if row.eventtype == "APP_START"
                        and row.appname == "Queue"), None)
    bridge = next((row for row in own if row.eventtype == "BRIDGE_ENTER" and row.peer), None)
    monitor = next((row for row in own if row.eventtype == "APP_START"
                    and row.appname == "MixMonitor"), None)
    hangup = next((row for row in own if row.eventtype == "HANGUP"), None)
    recording = _RECORDING.search(monitor.appdata or "") if monitor else None
    caller = next((row.cid_num for row in own if row.cid_num), None)
    extra = json.loads(hangup.extra) if hangup and hangup.extra else {}
    # The dialplan's own Hangup() after Queue() returned: nobody answered in time.
    dialplan_ended = str(extra.get("hangupsource", "")).startswith("dialplan/")
    started_at = _aware(start.eventtime)
    return HangupReport(
        call=NewCall(
            uniqueid=start.uniqueid or trace.linkedid, linkedid=trace.linkedid,
            direction=Direction.INBOUND, started_at=started_at,
            src_number=caller, dst_number=start.exten, did=start.exten,
            caller_name=start.cid_name or None,
            recording=recording.group(1) if recording else None,
        ),
        ended_at=_aware(end.eventtime),
        queue_status="TIMEOUT" if queue_start and not bridge and dialplan_ended else "",
        queue_returned=dialplan_ended,
        queue_entered=queue_start is not None,
        hangup_source=str(extra.get("hangupsource", "")),
        cause=str(extra.get("hangupcause", "")),
        member=bridge.peer if bridge else None,
        queue=(queue_start.appdata or "").split(",")[0] if queue_start else None,
        member_answered_at=_aware(bridge.eventtime) if bridge else None,
        queue_entered_at=_aware(queue_start.eventtime) if queue_start else None,
        late_event="card_rebuilt_from_cel",
    )


def _aware(moment: datetime | None) -> datetime:
    if moment is None:
        raise ValueError("a CEL row without a time")
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.now().astimezone().tzinfo)


def missing_calls(session: Session, since: datetime) -> list[CallTrace]:
    """Finished calls from the trunk since `since` that have no card."""
    finished = select(AsteriskCel.linkedid).where(
        AsteriskCel.eventtype == "LINKEDID_END", AsteriskCel.eventtime >= since
    )
    carded = select(Call.linkedid).where(Call.started_at >= since - timedelta(days=1))
    rows = session.scalars(
        select(AsteriskCel)
        .where(AsteriskCel.linkedid.in_(finished), AsteriskCel.linkedid.not_in(carded))
        .order_by(AsteriskCel.linkedid, AsteriskCel.eventtime, AsteriskCel.id)
    )
    traces: dict[str, CallTrace] = defaultdict(lambda: CallTrace(""))
    for row in rows:
        trace = traces[row.linkedid or ""]
        trace.linkedid = row.linkedid or ""
        trace.rows.append(row)
    return [trace for trace in traces.values() if trace.caller_channel() is not None]


def reconcile(session: Session, cards: CardStore, since: datetime) -> list[str]:
    """Give every finished trunk call since `since` a card; the linkedids that got one."""
    rebuilt = []
    for trace in missing_calls(session, since):
        report = _rebuild(trace)
        if report is not None:
            cards.hang_up(report)
            rebuilt.append(trace.linkedid)
    return rebuilt
