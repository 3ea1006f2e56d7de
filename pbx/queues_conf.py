"""The generated queues include file (queues_callcards.conf): rendered from plain data, read back.

queues.conf keeps [general] and the [cc-queue] template and ends with
`#include "queues_callcards.conf"`; this module writes one section per active queue with the
settings an admin edits and one static member per operator.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from dialplan.virtual_hold import DEFAULT_PROMPT as CALLBACK_PROMPT
from dialplan.virtual_hold import KEYS as CALLBACK_KEYS
from dialplan.virtual_hold import PROMPT_NAME

#: The generated file's name, next to queues.conf in Asterisk's config folder.
QUEUES_INCLUDE = "queues_callcards.conf"
#: The template every generated queue inherits (queues.conf).
QUEUE_TEMPLATE = "cc-queue"
#: The exit-to-context of a queue that offers a callback, by key (extensions.conf).
CALLBACK_CONTEXT = "cc-callback-key-"
#: How an operator's phone is dialled; {extension} is the operator's extension.
DEFAULT_MEMBER_INTERFACE = "PJSIP/{extension}"

# app_queue's strategy names (app_queue.c, strategies[]).
STRATEGIES = frozenset(
    {
        "ringall",
        "leastrecent",
        "fewestcalls",
        "random",
        "rrmemory",
        "rrordered",
        "linear",
        "wrandom",
    }
)
# [general] is app_queue's global options, never a queue (app_queue.c, reload_queues); the
# dialplan passes queue names through FILTER(-A-Za-z0-9_.) before Queue().
RESERVED_QUEUE_NAMES = frozenset({"general"})
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
EXTENSION = re.compile(r"^[A-Za-z0-9_.+-]{1,32}$")
#: What happens when no operator could take a call: joinempty/leavewhenempty values.
#: "leave": don't join, leave when that becomes true (QUEUESTATUS JOINEMPTY/LEAVEEMPTY, the card
#: is closed as no_operator); "wait": wait anyway, until the queue's max wait runs out (TIMEOUT).
WHEN_EMPTY = {"leave": "paused,penalty,invalid,unavailable", "wait": "no"}
# app_queue keeps a member name in char membername[80] (app_queue.c, struct member); a longer
# UTF-8 name would be cut mid-letter and never match what was written.
MEMBER_NAME_BYTES = 79
# Characters that would split or end a member line: "," separates the fields, ";" starts a
# comment, and app_queue's argument parser eats quotes and backslashes and nests brackets
# (main/app.c, __ast_app_separate_args).
_UNSAFE_IN_NAME = re.compile(r'[,;"\\()\[\]\x00-\x1f\x7f]')
_HEADER = re.compile(r"^\[(?P<name>[^\]]+)\](?:\((?P<options>[^)]*)\))?")
_SETTING = re.compile(r"^(?P<key>[A-Za-z0-9_-]+)\s*=>?\s*(?P<value>.*?)\s*$")


@dataclass(frozen=True)
class MemberSpec:
    """An operator in a queue: their extension, name and penalty (lower rings first)."""

    extension: str
    name: str = ""
    penalty: int = 0


@dataclass(frozen=True)
class QueueSpec:
    """One queue as the staff site keeps it (max wait is Queue()'s argument, not set here)."""

    name: str
    title: str = ""
    strategy: str = "rrmemory"
    ring_timeout_sec: int = 15
    wrapup_sec: int = 0
    service_level_sec: int = 20
    when_empty: str = "leave"
    members: tuple[MemberSpec, ...] = ()
    # Virtual hold (dialplan.virtual_hold): after this many seconds of waiting (0: never) the
    # caller hears the offer, again every callback_repeat_sec; callback_key takes it.
    callback_after_sec: int = 0
    callback_key: str = "1"
    callback_repeat_sec: int = 60
    callback_prompt: str = CALLBACK_PROMPT


@dataclass(frozen=True)
class ExpectedMember:
    """A static member as app_queue should show it (AMI QueueStatus: Location, Penalty, Name)."""

    interface: str
    penalty: int
    name: str


@dataclass(frozen=True)
class ExpectedQueue:
    """What app_queue should run for one queue; None where the file does not say."""

    name: str
    strategy: str | None = None
    service_level_sec: int | None = None
    members: frozenset[ExpectedMember] = field(default_factory=frozenset)


def check_queue_name(name: str) -> None:
    """ValueError unless `name` can be a queue in queues.conf and in the dialplan."""
    if name.lower() in RESERVED_QUEUE_NAMES:
        raise ValueError(f"queue name {name!r} is reserved in queues.conf; pick another name")
    if not QUEUE_NAME.match(name):
        raise ValueError(f"queue name {name!r}: use 1-64 Latin letters, digits, '_', '.', '-' only")


def member_interface(template: str, extension: str) -> str:
    """The member interface for an operator's extension, from the configured template."""
    if "{extension}" not in template:
        raise ValueError(
            f"member interface {template!r} has no {{extension}} (e.g. PJSIP/{{extension}})"
        )
    if not EXTENSION.match(extension):
        raise ValueError(f"extension {extension!r}: use Latin letters, digits, '_.+-' only")
    interface = template.replace("{extension}", extension)
    if _UNSAFE_IN_NAME.search(interface) or " " in interface:
        raise ValueError(f"member interface {interface!r} has characters a member line can't hold")
    return interface


def member_name(name: str) -> str:
    """The operator's name as a member line can carry it (and app_queue keeps it whole)."""
    clean = " ".join(_UNSAFE_IN_NAME.sub(" ", name).split())
    encoded = clean.encode()[:MEMBER_NAME_BYTES]
    return encoded.decode(errors="ignore").strip()


def render_queues(
    queues: Iterable[QueueSpec], interface_template: str = DEFAULT_MEMBER_INTERFACE
) -> str:
    """The whole generated file for `queues` (sorted, so the same data gives the same text)."""
    lines = [
        "; callcards: GENERATED from the queues and operators in the staff site by",
        "; `callcards asterisk apply` (or the site). Don't edit: the next apply",
        "; overwrites this file. Included at the end of queues.conf; every queue",
        f"; inherits [{QUEUE_TEMPLATE}] there. Members: interface,penalty,name.",
    ]
    seen: set[str] = set()
    for queue in sorted(queues, key=lambda q: q.name):
        check_queue_name(queue.name)
        if queue.name.lower() in seen:
            raise ValueError(f"queue {queue.name!r} is given twice")
        seen.add(queue.name.lower())
        lines += ["", *_render_queue(queue, interface_template)]
    return "\n".join(lines) + "\n"


def _render_queue(queue: QueueSpec, interface_template: str) -> list[str]:
    """One queue's section."""
    if queue.strategy not in STRATEGIES:
        raise ValueError(
            f"queue {queue.name!r}: strategy {queue.strategy!r} is not one of "
            + ", ".join(sorted(STRATEGIES))
        )
    if queue.when_empty not in WHEN_EMPTY:
        raise ValueError(
            f"queue {queue.name!r}: when_empty {queue.when_empty!r} is not one of "
            + ", ".join(WHEN_EMPTY)
        )
    for label, value in (
        ("ring timeout", queue.ring_timeout_sec),
        ("wrap-up time", queue.wrapup_sec),
        ("service level", queue.service_level_sec),
    ):
        if value < 0:
            raise ValueError(f"queue {queue.name!r}: {label} {value} is negative")
    title = " ".join(queue.title.split())
    empty = WHEN_EMPTY[queue.when_empty]
    lines = [f"[{queue.name}]({QUEUE_TEMPLATE})"]
    if title:
        lines.append(f"; {title}")
    lines += [
        # Always per queue: app_queue takes a new queue's strategy with
        # ast_variable_retrieve(), which returns the first "strategy" line,
        # the template's (app_queue.c, reload_single_queue).
        f"strategy = {queue.strategy}",
        f"timeout = {queue.ring_timeout_sec}",
        f"wrapuptime = {queue.wrapup_sec}",
        f"servicelevel = {queue.service_level_sec}",
        f"joinempty = {empty}",
        f"leavewhenempty = {empty}",
        *_callback_offer(queue),
    ]
    extensions: set[str] = set()
    for member in sorted(queue.members, key=lambda m: (m.penalty, m.extension)):
        if member.extension in extensions:
            raise ValueError(f"queue {queue.name!r}: extension {member.extension} is given twice")
        extensions.add(member.extension)
        if member.penalty < 0:
            raise ValueError(f"queue {queue.name!r}: penalty {member.penalty} is negative")
        interface = member_interface(interface_template, member.extension)
        name = member_name(member.name)
        lines.append(f"member => {interface},{member.penalty}" + (f",{name}" if name else ""))
    return lines


def _callback_offer(queue: QueueSpec) -> list[str]:
    """A queue's virtual hold: the offer as a periodic announcement, the key as an exit.

    app_queue leaves the queue when the caller presses a one-digit extension of the queue's
    `context` (queue_log EXITWITHKEY); extensions.conf has one context per key
    ([cc-callback-key-<digit>]), each sending the caller to [cc-callback].
    """
    if queue.callback_after_sec <= 0:
        return []
    if queue.callback_key not in CALLBACK_KEYS:
        raise ValueError(f"queue {queue.name!r}: callback key {queue.callback_key!r} is not 0-9")
    if queue.callback_repeat_sec <= 0:
        raise ValueError(
            f"queue {queue.name!r}: callback repeat {queue.callback_repeat_sec} is not positive"
        )
    if not PROMPT_NAME.match(queue.callback_prompt):
        raise ValueError(f"queue {queue.name!r}: callback prompt {queue.callback_prompt!r}")
    return [
        f"context = {CALLBACK_CONTEXT}{queue.callback_key}",
        f"periodic-announce = {queue.callback_prompt}",
        f"periodic-announce-startdelay = {queue.callback_after_sec}",
        f"periodic-announce-frequency = {queue.callback_repeat_sec}",
        # The caller at the head of the queue, whose operators are ringing, hears it too
        # (app_queue plays announcements to the others only).
        "announce-to-first-user = yes",
    ]


def expected_queues(text: str) -> dict[str, ExpectedQueue]:
    """What app_queue should run after loading `text` (a generated file, or one like it)."""
    queues: dict[str, ExpectedQueue] = {}
    members: dict[str, set[ExpectedMember]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.split(";", 1)[0].strip()
        header = _HEADER.match(line)
        if header:
            name = header["name"].strip()
            # Templates and [general] are no queues.
            template = "!" in (header["options"] or "")
            current = None if template or name.lower() in RESERVED_QUEUE_NAMES else name
            if current is not None:
                queues.setdefault(current, ExpectedQueue(name=current))
                members.setdefault(current, set())
            continue
        setting = _SETTING.match(line)
        if current is None or setting is None:
            continue
        key, value = setting["key"].lower(), setting["value"]
        if key == "strategy":
            queues[current] = replace(queues[current], strategy=value)
        elif key == "servicelevel" and value.isdigit():
            queues[current] = replace(queues[current], service_level_sec=int(value))
        elif key == "member":
            members[current].add(_expected_member(value))
    return {
        name: replace(queue, members=frozenset(members[name])) for name, queue in queues.items()
    }


def _expected_member(value: str) -> ExpectedMember:
    """A `member =>` value as app_queue reads it (reload_single_member)."""
    fields = [part.strip() for part in value.split(",")]
    interface = fields[0]
    penalty_text = fields[1] if len(fields) > 1 else ""
    penalty = max(int(penalty_text), 0) if penalty_text.lstrip("-").isdigit() else 0
    name = fields[2] if len(fields) > 2 and fields[2] else interface
    return ExpectedMember(interface=interface, penalty=penalty, name=name)


def describe(queues: Mapping[str, ExpectedQueue]) -> list[str]:
    """One line per queue: its members, for messages an admin reads."""
    lines = []
    for name in sorted(queues):
        members = sorted(queues[name].members, key=lambda m: (m.penalty, m.interface))
        listed = ", ".join(f"{m.name} ({m.interface}, penalty {m.penalty})" for m in members)
        lines.append(f"{name}: {listed or 'no operators'}")
    return lines
