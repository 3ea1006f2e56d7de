"""What a call flow asks of the channel next, and what it noted on the way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from dialplan.timeline import TimelineKind


@dataclass(frozen=True)
class Collect:
    """Play a menu prompt and read the caller's digits (AGI GET DATA)."""

    prompt: str
    timeout_ms: int
    max_digits: int
    menu: str
    attempt: int


@dataclass(frozen=True)
class Play:
    """Play a prompt and carry on (an invalid-key or timeout prompt, a message)."""

    prompt: str


@dataclass(frozen=True)
class Decision:
    """Where the call ends up: a queue (with its timeout), a message left, or a hang-up.

    reason: did, ivr, ivr_default, ivr_hangup, closed_hours, closed_hours_queue,
    closed_hours_voicemail, transfer;
    to the default queue: unknown_did, unknown_queue, unknown_menu, unknown_schedule,
    action_not_allowed, loop_guard, error, transfer_unknown_queue, fallback. After a queue
    returned (dialplan.overflow): overflow_empty, overflow_timeout, overflow_fallback,
    overflow_unknown_queue, overflow_limit, answered.
    """

    action: Literal["queue", "hangup", "voicemail"]
    queue: str | None
    queue_timeout: int | None  # the queue's max_wait_sec; None when the queue is unknown
    message: str | None  # a hang-up's message or a voicemail's greeting, already played
    reason: str
    max_message_sec: int | None = None  # voicemail: record the caller this long at most


Step: TypeAlias = Collect | Play | Decision


@dataclass(frozen=True)
class FlowEvent:
    """One thing that happened in the call flow, for the card's timeline."""

    kind: TimelineKind
    data: dict[str, str] = field(default_factory=dict)
