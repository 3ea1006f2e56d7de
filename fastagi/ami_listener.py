"""Hold time from Asterisk: an AMI listener (panoramisk) that puts Hold/Unhold on the cards.

It runs in the FastAGI server's process and event loop, so its card changes go through
the same `AgiServices.change_card` as the routes': in order with the call's other changes,
to the journal while the database is away. Asterisk raises `Hold`/`Unhold` on the channel
whose phone pressed hold (an operator's phone: the operator's channel); every channel of a
call carries the call's `Linkedid`, the card's key, so a hold on either side lands on the
call's card. It reconnects whenever AMI goes away (an Asterisk restart) and never stops
the server; without an AMI secret it is off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from panoramisk import Manager

from callcards.config import Settings
from dialplan.timeline import TimelineKind
from fastagi.cards import Event
from fastagi.changes import HoldChanged
from fastagi.services import AgiServices
from live.ami import keep_listening, open_session

log = logging.getLogger(__name__)

#: AMI event name → the card's timeline kind (webadmin/labels.py has their words).
HOLD_KINDS = {"Hold": TimelineKind.HOLD, "Unhold": TimelineKind.UNHOLD}
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


def _asterisk_time(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(value), UTC) if value else None
    except (TypeError, ValueError, OverflowError):
        return None


class AmiListener:
    """Keeps one AMI session open and turns its Hold/Unhold events into card changes."""

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
            missing="hold time is not heard",
            logger=log,
        )

    async def _session(self) -> None:
        """One connection: log in, ask for Hold/Unhold only, wait until it is lost."""
        # Call events only (Hold/Unhold are in the "call" class), then only those two.
        manager, lost = await open_session(
            self.host,
            self.port,
            self.user,
            self._secret,
            classes="call",
            events=HOLD_KINDS,
            on_event=self._on_event,
            timeout=self.timeout,
        )
        try:
            log.info("AMI at %s: listening for Hold/Unhold (hold time on the cards)", self.where)
            self.listening.set()
            await lost
        finally:
            manager.close()

    def _on_event(self, _manager: Manager, message: Mapping[str, Any]) -> None:
        change = hold_change(message, self.services.now())
        if change is None:
            return
        log.debug(
            "%s on %s (call %s)", change.event.kind, change.event.data["channel"], change.linkedid
        )
        # In the background, after the call's earlier changes; a call with no card is left out.
        self.services.change_card(change.linkedid, HoldChanged(change.linkedid, change.event))


def ami_listener(settings: Settings, services: AgiServices) -> AmiListener | None:
    """The listener for the configured AMI, or None (logged) when AMI is not configured."""
    if not settings.ami_secret:
        log.info(
            "AMI not configured (CALLCARDS_AMI_SECRET is empty): hold time is not "
            "listened for; cards keep hold_sec 0"
        )
        return None
    return AmiListener(settings, services)
