"""A simulated call in words: what the admin's simulator shows, step by step (pure)."""

from __future__ import annotations

from dialplan.flow import SimulatedCall
from dialplan.settings import FlowSettings
from dialplan.steps import Collect, Decision, Play
from dialplan.timeline import TimelineKind


def parse_keys(text: str) -> list[str | None]:
    """'1,,9' -> ['1', None, '9']: one answer per prompt; an empty one is silence (timeout)."""
    if not text:
        return []
    return [part.strip() or None for part in text.split(",")]


def parse_queue_outcomes(text: str) -> list[str]:
    """'empty, timeout' -> ['empty', 'timeout']: what each queue the call reaches does."""
    return [part.strip().lower() for part in text.split(",") if part.strip()]


def describe(call: SimulatedCall, settings: FlowSettings | None = None) -> list[str]:
    """One line per step a caller would live through (`settings`: also each queue's
    callback offer)."""
    lines = [
        f"DID {call.did.dialed}: "
        + (f"{call.did.source or '-'} / {call.did.city or '-'}" if call.did.known else "unknown")
    ]
    if call.hours is not None:
        lines.append(f"hours: {'open' if call.hours.open else 'closed'} ({call.hours.reason})")
    overflows = iter(
        [event.data for event in call.events if event.kind == TimelineKind.QUEUE_OVERFLOW]
    )
    for index, step in enumerate(call.steps):
        if isinstance(step, Collect):
            lines.append(
                f"menu {step.menu}, try {step.attempt}: play {step.prompt}, "
                f"wait {step.timeout_ms / 1000:g} s for {step.max_digits} key(s)"
            )
        elif isinstance(step, Play):
            lines.append(f"play {step.prompt}")
        elif isinstance(step, Decision):
            if step.action == "queue":
                lines.append(
                    f"=> queue {step.queue} (wait up to {step.queue_timeout or '-'} s) "
                    f"[{step.reason}]"
                )
                queue = settings.queues.get(step.queue or "") if settings else None
                if queue is not None and queue.callback_offer.on:
                    lines.append(f"   {queue.callback_offer.sentence()}")
            elif step.action == "voicemail":
                lines.append(
                    f"=> beep, record a message of up to {step.max_message_sec} s, "
                    f"hang up [{step.reason}]"
                )
            else:
                lines.append(f"=> hang up [{step.reason}]")
            overflow = next(overflows, None) if index < len(call.steps) - 1 else None
            if overflow is not None:
                lines.append(
                    f"queue {overflow['from_queue']} gives the call back: "
                    f"{overflow['condition']} ({overflow['queue_status']})"
                )
    lines.append("IVR path: " + (" > ".join(call.ivr_path) or "-"))
    if len(call.queues) > 1:
        lines.append("queues: " + " > ".join(call.queues))
    return lines
