"""Settings checked before they reach callers: whatever would break or trap a call."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialplan.dids import number_digits
from dialplan.document import Problem
from dialplan.settings import (
    CLOSED_KINDS,
    DEFAULT_KINDS,
    ENTRY_KINDS,
    MENU_DIGITS,
    MESSAGE_KINDS,
    OPTION_KINDS,
    OVERFLOW_KINDS,
    OVERFLOW_WHEN,
    OVERRIDE_STATES,
    VOICEMAIL_MAX_SEC_LIMITS,
    WEEKDAYS,
    Action,
    FlowSettings,
    Schedule,
    read_document,
)

EXITS = ("queue", "hangup", "voicemail")  # actions that end the menus
# queues.conf: "general" is the section of global options, not a queue; the dialplan
# passes queue names through FILTER(-A-Za-z0-9_.) before Queue().
RESERVED_QUEUE_NAMES = frozenset({"general"})
QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def validate(
    settings: FlowSettings | Mapping[str, Any], known_prompts: Collection[str] | None = None
) -> list[Problem]:
    """Every problem that would break a call; [] means safe to publish.

    Given a document rather than settings, also reports malformed parts and names,
    digits or dates given twice. Prompts are checked only when known_prompts is given.
    """
    if isinstance(settings, FlowSettings):
        flow, problems, broken = settings, [], set()
    else:
        read = read_document(settings)
        flow, problems, broken = read.settings, [*read.errors, *read.duplicates], read.broken
        if not read.readable:
            return problems
    problems.extend(_default_queue(flow, broken))
    problems.extend(_queue_names(flow))
    for where, action, kinds in _actions(flow):
        problems.extend(_action(flow, broken, where, action, kinds))
    problems.extend(_dids(flow, broken))
    problems.extend(_digits(flow))
    problems.extend(_traps(flow))
    problems.extend(_overflow_loops(flow))
    for schedule in flow.schedules.values():
        problems.extend(_schedule(schedule))
    if known_prompts is not None:
        known = set(known_prompts)
        problems.extend(
            Problem(where, f"prompt {prompt!r} is not among the sound files")
            for where, prompt in _prompts(flow)
            if prompt not in known
        )
    return problems


def _default_queue(flow: FlowSettings, broken: set[tuple[str, str]]) -> Iterator[Problem]:
    if not flow.default_queue:
        yield Problem("default_queue", "no default queue is set; unknown or broken calls need one")
    elif flow.default_queue not in flow.queues and ("queue", flow.default_queue) not in broken:
        yield Problem(
            "default_queue",
            f"queue {flow.default_queue!r} does not exist; unknown or broken calls go there",
        )


def _queue_names(flow: FlowSettings) -> Iterator[Problem]:
    for name in flow.queues:
        if name.lower() in RESERVED_QUEUE_NAMES:
            yield Problem(
                f"queue {name}", f"{name!r} is reserved in queues.conf; pick another name"
            )
        elif not QUEUE_NAME.match(name):
            yield Problem(f"queue {name}", "use only Latin letters, digits, '_', '.' and '-'")


def _actions(flow: FlowSettings) -> Iterator[tuple[str, Action, tuple[str, ...]]]:
    """Every action in the settings, where it is, and the kinds allowed there."""
    for did in flow.dids.values():
        yield f"DID {did.number}, entry", did.entry, ENTRY_KINDS
    for menu in flow.menus.values():
        for digit, action in menu.options.items():
            yield f"menu {menu.name}, option {digit}", action, OPTION_KINDS
        yield f"menu {menu.name}, default", menu.default, DEFAULT_KINDS
    for schedule in flow.schedules.values():
        yield f"schedule {schedule.name}, closed_action", schedule.closed_action, CLOSED_KINDS
    for queue in flow.queues.values():
        for key in OVERFLOW_WHEN:
            yield f"queue {queue.name}, {key}", getattr(queue, key), OVERFLOW_KINDS


def _action(
    flow: FlowSettings,
    broken: set[tuple[str, str]],
    where: str,
    action: Action,
    kinds: tuple[str, ...],
) -> Iterator[Problem]:
    if action.kind not in kinds:
        yield Problem(where, f"kind {action.kind!r} is not allowed here (use {', '.join(kinds)})")
    elif action.kind in ("queue", "menu"):
        names = flow.queues if action.kind == "queue" else flow.menus
        if action.target not in names and (action.kind, action.target) not in broken:
            yield Problem(where, f"{action.kind} {action.target!r} does not exist")
    elif action.kind == "voicemail" and action.max_message_sec is not None:
        low, high = VOICEMAIL_MAX_SEC_LIMITS
        if not low <= action.max_message_sec <= high:
            yield Problem(
                where, f"a message may last {low} to {high} s, not {action.max_message_sec}"
            )


def _dids(flow: FlowSettings, broken: set[tuple[str, str]]) -> Iterator[Problem]:
    seen: dict[str, str] = {}
    for did in flow.dids.values():
        where = f"DID {did.number}"
        digits = number_digits(did.number)
        if not digits:
            yield Problem(where, f"number {did.number!r} has no digits")
        elif digits in seen:
            yield Problem(where, f"the same number as DID {seen[digits]}; calls reach only one")
        seen.setdefault(digits, did.number)
        if (
            did.schedule is not None
            and did.schedule not in flow.schedules
            and ("schedule", did.schedule) not in broken
        ):
            yield Problem(where, f"schedule {did.schedule!r} does not exist")


def _digits(flow: FlowSettings) -> Iterator[Problem]:
    for menu in flow.menus.values():
        for digit in menu.options:
            if digit not in MENU_DIGITS:
                yield Problem(
                    f"menu {menu.name}, option {digit}",
                    f"digit {digit!r} should be one of 0-9, * or #",
                )


def _traps(flow: FlowSettings) -> Iterator[Problem]:
    """Menus from which no key and no default ever reaches a queue or a hang-up."""
    escapes: set[str] = set()
    changed = True
    while changed:
        changed = False
        for name, menu in flow.menus.items():
            if name not in escapes and any(
                action.kind in EXITS
                or (
                    action.kind == "menu"
                    and (action.target in escapes or action.target not in flow.menus)
                )
                for action in (*menu.options.values(), menu.default)
            ):
                escapes.add(name)
                changed = True
    for name in flow.menus:
        if name not in escapes:
            loop = ", ".join(sorted(_reachable_menus(flow, name)))
            yield Problem(
                f"menu {name}",
                f"no key or default leads to a queue or a hang-up, so "
                f"callers go round menus {loop} until the loop guard queues them",
            )


def _overflow_loops(flow: FlowSettings) -> Iterator[Problem]:
    """Queues whose overflow (when empty or when the wait runs out) can lead back to them."""
    for name in flow.queues:
        path = _overflow_cycle(flow, name, [name])
        if path is not None and min(path) == name:  # each loop once, at its first queue
            yield Problem(
                f"queue {name}",
                "the overflow goes round queues "
                f"{' > '.join(path)}; a caller would never leave them",
            )


def _overflow_cycle(flow: FlowSettings, start: str, path: list[str]) -> list[str] | None:
    """A path of overflows from path[-1] back to `start`, if there is one."""
    queue = flow.queues[path[-1]]
    for key in OVERFLOW_WHEN:
        action = getattr(queue, key)
        target = action.target
        if action.kind != "queue" or target not in flow.queues:
            continue
        if target == start:
            return [*path, target]
        if target not in path:
            found = _overflow_cycle(flow, start, [*path, target])
            if found is not None:
                return found
    return None


def _reachable_menus(flow: FlowSettings, start: str) -> set[str]:
    found, todo = {start}, [start]
    while todo:
        menu = flow.menus[todo.pop()]
        for action in (*menu.options.values(), menu.default):
            target = action.target
            if action.kind == "menu" and target and target in flow.menus and target not in found:
                found.add(target)
                todo.append(target)
    return found


def _schedule(schedule: Schedule) -> Iterator[Problem]:
    where = f"schedule {schedule.name}"
    try:
        ZoneInfo(schedule.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        yield Problem(where, f"unknown time zone {schedule.timezone!r}")
    if len(schedule.weekly) != len(WEEKDAYS):
        yield Problem(f"{where}, weekly", f"needs hours for 7 days, got {len(schedule.weekly)}")
    days = [
        (f"weekly {day}", ranges) for day, ranges in zip(WEEKDAYS, schedule.weekly, strict=False)
    ]
    days += [(f"exception {e.date}", e.ranges) for e in schedule.exceptions.values()]
    for day, ranges in days:
        for hours in ranges:
            if hours.start == hours.end and hours.start != time(0):
                yield Problem(
                    f"{where}, {day}",
                    f"time range {hours} starts and ends at the "
                    "same time (use 00:00-00:00 for the whole day)",
                )
    override = schedule.override
    if override is not None:
        if override.state not in OVERRIDE_STATES:
            yield Problem(
                f"{where}, override", f"state {override.state!r} should be open or closed"
            )
        if override.until is not None and override.until.utcoffset() is None:
            yield Problem(f"{where}, override", "until needs a UTC offset")


def _prompts(flow: FlowSettings) -> Iterator[tuple[str, str]]:
    """Every sound the settings would play, and where it is set."""
    if flow.recording_announcement:
        yield "recording_announcement", flow.recording_announcement
    for menu in flow.menus.values():
        yield f"menu {menu.name}, prompt", menu.prompt
        if menu.timeout_prompt:
            yield f"menu {menu.name}, timeout_prompt", menu.timeout_prompt
        if menu.invalid_prompt:
            yield f"menu {menu.name}, invalid_prompt", menu.invalid_prompt
    for where, action, _kinds in _actions(flow):
        if action.kind in MESSAGE_KINDS and action.message:
            yield f"{where}, message", action.message
    for queue in flow.queues.values():
        if queue.callback_offer.on:
            yield f"queue {queue.name}, callback_offer", queue.callback_offer.prompt
