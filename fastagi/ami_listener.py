"""Hold time and attended transfers from Asterisk: an AMI listener (panoramisk) for the cards.

It runs in the FastAGI server's process and event loop, so its card changes go through
the same `AgiServices.change_card` as the routes': in order with the call's other changes,
to the journal while the database is away. Asterisk raises `Hold`/`Unhold` on the channel
whose phone pressed hold (an operator's phone: the operator's channel); every channel of a
call carries the call's `Linkedid`, the card's key, so a hold on either side lands on the
call's card. An operator's attended transfer into a queue (they call the queue, talk to
whoever answers, hand the caller over) passes no AGI route of the caller's: `AgentConnect`
says which queue answered the consultation, `AttendedTransfer` that it took the caller, and
the card gets the move (`TransferredAttended`), the dialplan the new queue (CC_QUEUE).
It reconnects whenever AMI goes away (an Asterisk restart) and never stops the server;
without an AMI secret it is off.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager

from callcards.config import Settings
from dialplan.timeline import TimelineKind
from fastagi import variables as var
from fastagi.cards import Event
from fastagi.changes import HoldChanged, TransferredAttended
from fastagi.channels import extension_of
from fastagi.services import AgiServices
from live.ami import keep_listening, open_session

log = logging.getLogger(__name__)

#: AMI event name → the card's timeline kind (webadmin/labels.py has their words).
HOLD_KINDS = {"Hold": TimelineKind.HOLD, "Unhold": TimelineKind.UNHOLD}
#: Every AMI event the listener reads ("call" and "agent" classes).
LISTENED = (*HOLD_KINDS, "AgentConnect", "AttendedTransfer")
#: Queue answers kept for an attended transfer that may follow (the most recent ones).
REMEMBERED_ANSWERS = 1000
#: Seconds between attempts while AMI is unreachable; the last repeats.
RETRY_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0)


@dataclass(frozen=True)
class HoldChange:
    """The card change one AMI event asks for."""

    linkedid: str
    event: Event


def hold_change(message: Mapping[str, Any], received_at: datetime) -> HoldChange | None:
    """The card change for an AMI `Hold`/`Unhold` event; None for any other or no Linkedid.

    The time is Asterisk's (`Timestamp`, manager.conf `timestampevents`), the same for every
    server instance that hears the event; the time it arrived when there is none.
    """
    kind = HOLD_KINDS.get(str(message.get("Event", "")))
    linkedid = str(message.get("Linkedid", "")).strip()
    if kind is None or not linkedid:
        return None
    at = _asterisk_time(message.get("Timestamp")) or received_at
    data = {"channel": str(message.get("Channel", ""))}
    if kind == TimelineKind.HOLD and message.get("MusicClass"):
        data["music_class"] = str(message["MusicClass"])
    return HoldChange(linkedid, Event(kind, at, data, str(message.get("Uniqueid") or "") or None))


@dataclass(frozen=True)
class QueueAnswer:
    """An operator answered a queue's caller (AMI AgentConnect): a consultation's queue."""

    queue: str
    interface: str


def queue_answer(message: Mapping[str, Any]) -> tuple[str, QueueAnswer] | None:
    """(the queue caller's channel uniqueid, its answer) from an AgentConnect; else None."""
    if message.get("Event") != "AgentConnect":
        return None
    uniqueid = str(message.get("Uniqueid", "")).strip()
    queue = str(message.get("Queue", "")).strip()
    if not uniqueid or not queue:
        return None
    return uniqueid, QueueAnswer(queue, str(message.get("Interface", "")).strip())


@dataclass(frozen=True)
class TransferIntoQueue:
    """What an attended transfer into a queue changes: the card, and the caller's channel."""

    caller_channel: str
    change: TransferredAttended


def transfer_into_queue(
    message: Mapping[str, Any], answers: Mapping[str, QueueAnswer], received_at: datetime
) -> TransferIntoQueue | None:
    """The change for a successful AMI AttendedTransfer whose consultation a queue answered.

    One of the operator's two channels is the consultation: the caller of a queue Asterisk
    said an operator answered (`answers`, by uniqueid). The other one shares the caller's
    linkedid, the card's key. The operator's phone may send the transfer on either call, so
    the caller is the transferee (when the consultation is the second call) or the target.
    None for anything else: a failed transfer, one to a colleague's extension, no linkedid.
    """
    if message.get("Event") != "AttendedTransfer" or message.get("Result") != "Success":
        return None
    for consulting, holding, caller in (
        ("SecondTransferer", "OrigTransferer", "Transferee"),
        ("OrigTransferer", "SecondTransferer", "TransferTarget"),
    ):
        answer = answers.get(str(message.get(f"{consulting}Uniqueid", "")).strip())
        linkedid = str(message.get(f"{holding}Linkedid", "")).strip()
        if answer is None or not linkedid:
            continue
        at = _asterisk_time(message.get("Timestamp")) or received_at
        change = TransferredAttended(
            linkedid,
            to_queue=answer.queue,
            extension=extension_of(answer.interface),
            interface=answer.interface or None,
            at=at,
            channel_uniqueid=str(message.get(f"{caller}Uniqueid", "")).strip() or None,
        )
        return TransferIntoQueue(str(message.get(f"{caller}Channel", "")).strip(), change)
    return None


def _asterisk_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


class AmiListener:
    """Keeps one AMI session open and turns its hold and transfer events into card changes."""

    def __init__(
        self,
        settings: Settings,
        services: AgiServices,
        *,
        retry_delays: tuple[float, ...] = RETRY_DELAYS,
        timeout: float = 10.0,
    ) -> None:
        self.host, self.port = settings.ami_host, settings.ami_port
        self.user, self._secret = settings.ami_user, settings.ami_secret
        self.services = services
        self.retry_delays = retry_delays
        self.timeout = timeout
        #: Set while logged in (tests and logs wait on it).
        self.listening = asyncio.Event()
        #: The latest queue answers by the queue caller's uniqueid (AgentConnect).
        self._answers: OrderedDict[str, QueueAnswer] = OrderedDict()
        #: Setvar actions under way (kept so they are not collected half-way).
        self._telling: set[asyncio.Future[Any]] = set()

    @property
    def where(self) -> str:
        """host:port, for messages."""
        return f"{self.host}:{self.port}"

    async def run(self) -> None:
        """Listen until cancelled, connecting again after every loss; never raises."""
        await keep_listening(
            self._session,
            listening=self.listening,
            retry_delays=self.retry_delays,
            where=self.where,
            missing="hold time and attended transfers are not heard",
            logger=log,
        )

    async def _session(self) -> None:
        """One connection: log in, ask for the LISTENED events only, wait until it is lost."""
        # Call and agent events only (AgentConnect is "agent"), then only LISTENED.
        manager, lost = await open_session(
            self.host,
            self.port,
            self.user,
            self._secret,
            classes="call,agent",
            events=LISTENED,
            on_event=self._on_event,
            timeout=self.timeout,
        )
        try:
            log.info(
                "AMI at %s: listening for holds and attended transfers (for the cards)", self.where
            )
            self.listening.set()
            await lost
        finally:
            manager.close()

    def _on_event(self, manager: Manager, message: Mapping[str, Any]) -> None:
        answered = queue_answer(message)
        if answered is not None:
            self._answers[answered[0]] = answered[1]
            while len(self._answers) > REMEMBERED_ANSWERS:
                self._answers.popitem(last=False)
            return
        moved = transfer_into_queue(message, self._answers, self.services.now())
        if moved is not None:
            self._on_transfer(manager, moved)
            return
        change = hold_change(message, self.services.now())
        if change is None:
            return
        log.debug(
            "%s on %s (call %s)", change.event.kind, change.event.data["channel"], change.linkedid
        )
        # In the background, after the call's earlier changes; a call with no card is left out.
        self.services.change_card(change.linkedid, HoldChanged(change.linkedid, change.event))

    def _on_transfer(self, manager: Manager, moved: TransferIntoQueue) -> None:
        change = moved.change
        log.info(
            "attended transfer of call %s into queue %s (%s)",
            change.linkedid,
            change.to_queue,
            change.interface,
        )
        self.services.change_card(change.linkedid, change)
        if not moved.caller_channel:
            return
        # The caller's dialplan goes on in the new queue too: its hangup reports that queue
        # (the hangup route would otherwise put the card back in the first one).
        telling = asyncio.ensure_future(
            manager.send_action(
                {
                    "Action": "Setvar",
                    "Channel": moved.caller_channel,
                    "Variable": var.CC_QUEUE,
                    "Value": change.to_queue,
                },
                as_list=False,
            )
        )
        self._telling.add(telling)
        telling.add_done_callback(self._told)

    def _told(self, telling: asyncio.Future[Any]) -> None:
        self._telling.discard(telling)
        if telling.cancelled():
            return
        error = telling.exception()
        reply = None if error is not None else telling.result()
        if error is not None or not getattr(reply, "success", False):
            log.warning(
                "AMI at %s: could not set the caller's queue after a transfer (%s)",
                self.where,
                error or (reply.get("Message") if reply is not None else "no reply"),
            )


def ami_listener(settings: Settings, services: AgiServices) -> AmiListener | None:
    """The listener for the configured AMI, or None (logged) when AMI is not configured."""
    if not settings.ami_secret:
        log.info(
            "AMI not configured (CALLCARDS_AMI_SECRET is empty): hold time is not "
            "listened for; cards keep hold_sec 0"
        )
        return None
    return AmiListener(settings, services)
