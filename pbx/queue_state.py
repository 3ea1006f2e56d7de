"""What app_queue runs now (AMI QueueStatus), its reload, and how it differs from a file."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from pbx.queues_conf import ExpectedMember, ExpectedQueue


class QueueAmi(Protocol):
    """The part of an AMI session this module needs (pbx.ami.AmiClient, or a test's fake)."""

    def action(self, action: str, **fields: str) -> dict[str, str]:
        """One action; its reply headers (AmiError on an Error reply)."""
        ...

    def action_list(self, action: str, **fields: str) -> list[dict[str, str]]:
        """A list action; its events."""
        ...


@dataclass(frozen=True)
class RunningQueue:
    """A queue as app_queue runs it."""

    name: str
    strategy: str
    service_level_sec: int | None
    static_members: frozenset[ExpectedMember]
    # Added with QueueAdd / AddQueueMember (a phone's login), not by the file.
    dynamic_members: frozenset[ExpectedMember] = frozenset()


def running_queues(ami: QueueAmi) -> dict[str, RunningQueue]:
    """Every queue app_queue runs, with its members (AMI QueueStatus)."""
    params: dict[str, dict[str, str]] = {}
    members: dict[str, list[dict[str, str]]] = {}
    for event in ami.action_list("QueueStatus"):
        queue = event.get("Queue", "")
        if event.get("Event") == "QueueParams":
            params[queue] = event
            members.setdefault(queue, [])
        elif event.get("Event") == "QueueMember":
            members.setdefault(queue, []).append(event)
    running = {}
    for name, event in params.items():
        static: set[ExpectedMember] = set()
        dynamic: set[ExpectedMember] = set()
        for member in members.get(name, []):
            # Asterisk 12+ names the member's interface "Location" here; "Interface" in
            # QueueMemberAdded and friends.
            interface = member.get("Location") or member.get("Interface") or ""
            penalty = member.get("Penalty", "0")
            found = ExpectedMember(
                interface=interface,
                penalty=int(penalty) if penalty.isdigit() else 0,
                name=member.get("Name") or interface,
            )
            (static if member.get("Membership") == "static" else dynamic).add(found)
        service_level = event.get("ServiceLevel", "")
        running[name] = RunningQueue(
            name=name,
            strategy=event.get("Strategy", ""),
            service_level_sec=int(service_level) if service_level.isdigit() else None,
            static_members=frozenset(static),
            dynamic_members=frozenset(dynamic),
        )
    return running


def reload_queues(ami: QueueAmi) -> None:
    """Make app_queue read queues.conf again: parameters and members (AMI QueueReload).

    Not `module reload app_queue.so`: app_queue's reload() answers success even when
    queues.conf is invalid; QueueReload at least reports a file it could not load.
    Neither reports a parse error inside the file (the config loader then hands app_queue
    nothing and it keeps what runs), so callers check the result with running_queues().
    """
    ami.action("QueueReload", Members="yes", Rules="yes", Parameters="yes")


def mismatches(
    expected: Mapping[str, ExpectedQueue],
    running: Mapping[str, RunningQueue],
    gone: Iterable[str] = (),
) -> list[str]:
    """How what app_queue runs differs from `expected` (and queues that should be `gone`)."""
    problems = []
    for name in sorted(expected):
        want = expected[name]
        have = running.get(name)
        if have is None:
            problems.append(f"queue {name}: Asterisk has no such queue")
            continue
        if want.strategy is not None and have.strategy != want.strategy:
            problems.append(f"queue {name}: strategy is {have.strategy}, not {want.strategy}")
        if want.service_level_sec is not None and have.service_level_sec != want.service_level_sec:
            problems.append(
                f"queue {name}: service level is {have.service_level_sec} s, "
                f"not {want.service_level_sec} s"
            )
        problems += _member_mismatches(name, want.members, have.static_members)
    for name in sorted(set(gone) - set(expected)):
        if name in running:
            problems.append(f"queue {name}: still runs in Asterisk, though it was removed")
    return problems


def _member_mismatches(
    queue: str, want: frozenset[ExpectedMember], have: frozenset[ExpectedMember]
) -> list[str]:
    """Members missing, extra, or with another penalty or name."""
    wanted = {member.interface: member for member in want}
    found = {member.interface: member for member in have}
    problems = []
    for interface in sorted(set(wanted) | set(found)):
        w, h = wanted.get(interface), found.get(interface)
        if h is None:
            problems.append(f"queue {queue}: operator {interface} is missing")
        elif w is None:
            problems.append(f"queue {queue}: operator {interface} should not be a member")
        elif (w.penalty, w.name) != (h.penalty, h.name):
            problems.append(
                f"queue {queue}: operator {interface} has penalty {h.penalty} and name "
                f"{h.name!r}, not {w.penalty} and {w.name!r}"
            )
    return problems


def same_setup(before: Mapping[str, RunningQueue], after: Mapping[str, RunningQueue]) -> bool:
    """Whether two readings show the same queues, strategies, levels and static members."""

    def setup(queues: Mapping[str, RunningQueue]) -> set[tuple[object, ...]]:
        return {
            (q.name, q.strategy, q.service_level_sec, q.static_members) for q in queues.values()
        }

    return setup(before) == setup(after)
