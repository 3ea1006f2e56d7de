"""An operator's break: their phone paused or ready in every queue it serves (AMI).

Asterisk holds the state (app_queue's member `Paused`, `PausedReason`, `LastPause`), so
what the operator sees is what the queues do; QueuePause without a queue name pauses the
member in all of its queues at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from callcards.config import Settings
from pbx.ami import AmiClient, AmiError
from pbx.queue_state import QueueAmi
from pbx.queues_conf import member_interface


@dataclass(frozen=True)
class MemberState:
    """An operator's phone as the queues see it."""

    queues: tuple[str, ...]  # the queues it is a member of; empty: it takes no queue calls
    paused: bool
    reason: str = ""
    since: datetime | None = None


def member_state(ami: QueueAmi, interface: str) -> MemberState:
    """Whether `interface` is paused, why and since when, and in which queues (QueueStatus)."""
    return member_states(ami, interface).get(interface, MemberState(queues=(), paused=False))


def member_states(ami: QueueAmi, interface: str | None = None) -> dict[str, MemberState]:
    """Every queue member's state (or only `interface`'s), keyed by interface."""
    fields = {"Member": interface} if interface else {}
    entries: dict[str, list[dict[str, str]]] = {}
    for event in ami.action_list("QueueStatus", **fields):
        found = event.get("Location") or event.get("Interface") or ""
        if event.get("Event") != "QueueMember" or not found or interface not in (None, found):
            continue
        entries.setdefault(found, []).append(event)
    return {found: _state(member) for found, member in entries.items()}


def _state(entries: list[dict[str, str]]) -> MemberState:
    """One member's state from its QueueMember entries (one per queue)."""
    paused = [entry for entry in entries if entry.get("Paused") == "1"]
    reason = next((entry.get("PausedReason", "") for entry in paused), "")
    started = [
        int(entry["LastPause"])
        for entry in paused
        if entry.get("LastPause", "").isdigit() and int(entry["LastPause"]) > 0
    ]
    return MemberState(
        queues=tuple(sorted({entry.get("Queue", "") for entry in entries})),
        paused=bool(paused),
        reason=reason,
        since=datetime.fromtimestamp(max(started), UTC) if started else None,
    )


def set_paused(ami: QueueAmi, interface: str, paused: bool, reason: str = "") -> None:
    """Pause `interface` in every queue (with `reason`), or make it ready again."""
    fields = {"Interface": interface, "Paused": "true" if paused else "false"}
    if paused and reason:
        fields["Reason"] = reason
    ami.action("QueuePause", **fields)


#: The pause of a phone a supervisor logged out of queues it cannot leave (queues.conf members).
LOGGED_OUT_REASON = "logged out"


def log_out(ami: QueueAmi, interface: str) -> None:
    """Take `interface` out of every queue (QueueRemove); a member written in queues.conf
    cannot be removed at run time, so it is paused "logged out" there instead."""
    stays = False
    for queue in member_state(ami, interface).queues:
        try:
            ami.action("QueueRemove", Queue=queue, Interface=interface)
        except AmiError:  # "Member not dynamic"
            stays = True
    if stays:
        set_paused(ami, interface, True, LOGGED_OUT_REASON)


#: Seconds the site waits for AMI here: the operator's page must not hang on Asterisk.
SITE_TIMEOUT = 3.0


def operator_state(settings: Settings, extension: str) -> MemberState:
    """The state of the operator's phone (`extension`) in Asterisk's queues. AmiError if unknown."""
    with AmiClient.from_settings(settings, timeout=SITE_TIMEOUT) as ami:
        return member_state(ami, member_interface(settings.member_interface, extension))


def pause_operator(
    settings: Settings, extension: str, paused: bool, reason: str = ""
) -> MemberState:
    """Pause the operator's phone in every queue, or make it ready; the state after."""
    interface = member_interface(settings.member_interface, extension)
    with AmiClient.from_settings(settings, timeout=SITE_TIMEOUT) as ami:
        set_paused(ami, interface, paused, reason)
        return member_state(ami, interface)


def log_out_operator(settings: Settings, extension: str) -> MemberState:
    """Log the operator's phone out of the queues (pbx.pause.log_out); the state after."""
    interface = member_interface(settings.member_interface, extension)
    with AmiClient.from_settings(settings, timeout=SITE_TIMEOUT) as ami:
        log_out(ami, interface)
        return member_state(ami, interface)


def operator_states(settings: Settings, extensions: list[str]) -> dict[str, MemberState]:
    """The state of each operator's phone (by extension) in one QueueStatus. AmiError if unknown."""
    with AmiClient.from_settings(settings, timeout=SITE_TIMEOUT) as ami:
        states = member_states(ami)
    nowhere = MemberState(queues=(), paused=False)
    return {
        extension: states.get(member_interface(settings.member_interface, extension), nowhere)
        for extension in extensions
    }
