"""One call walked from its DID through business hours and menus to a decision.

`CallFlow` hands out one step at a time (Collect, Play, then a Decision) so the same
walk serves the live FastAGI call, the admin's simulator and the tests. Nothing in the
settings makes it raise once started: a missing queue, menu or schedule, or a flow that
goes round in circles, sends the call to the default queue.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from dialplan import ivr
from dialplan.dids import DidMatch, resolve_did
from dialplan.hours import HoursCheck, check_hours
from dialplan.overflow import QUEUE_OUTCOMES, decide_overflow
from dialplan.settings import VOICEMAIL_GREETING, VOICEMAIL_MAX_SEC, Action, FlowSettings, Menu
from dialplan.steps import Collect, Decision, FlowEvent, Play, Step
from dialplan.timeline import TimelineKind

# The steps a route reads off a flow are part of this module's face (fastagi imports them here).
__all__ = [
    "MAX_STEPS",
    "CallFlow",
    "Collect",
    "Decision",
    "SimulatedCall",
    "decide_transfer",
    "default_decision",
    "simulate",
]

MAX_STEPS = 100  # prompts and plays in one call before the loop guard steps in

_QUEUE_REASONS = {
    "did": "did",
    "closed": "closed_hours_queue",
    "option": "ivr",
    "default": "ivr_default",
}
_HANGUP_REASONS = {"closed": "closed_hours", "option": "ivr_hangup", "default": "ivr_default"}
# Where a voicemail action may stand (settings allow it in closed_action only, for now).
_VOICEMAIL_REASONS = {"closed": "closed_hours_voicemail"}


def default_decision(settings: FlowSettings, reason: str = "fallback") -> Decision:
    """Send the call to the default queue."""
    queue = settings.queues.get(settings.default_queue)
    return Decision(
        "queue", settings.default_queue, queue.max_wait_sec if queue else None, None, reason
    )


def decide_transfer(settings: FlowSettings, queue: str) -> Decision:
    """Where a call transferred to `queue` goes; an unknown queue means the default one."""
    known = settings.queues.get(queue)
    if known is None:
        return default_decision(settings, "transfer_unknown_queue")
    return Decision("queue", known.name, known.max_wait_sec, None, "transfer")


class CallFlow:
    """The step machine for one call: start(), then keys() or played() until a Decision."""

    def __init__(
        self,
        settings: FlowSettings,
        dialed: str,
        caller: str,
        at: datetime,
        *,
        max_steps: int = MAX_STEPS,
    ) -> None:
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"CallFlow needs a time with a time zone, got {at.isoformat()}")
        self.settings, self.dialed, self.caller, self.at = settings, dialed, caller, at
        self.events: list[FlowEvent] = []
        self.ivr_path: list[str] = []
        self.did: DidMatch = resolve_did(settings, dialed)
        self.hours: HoursCheck | None = None
        self.decision: Decision | None = None
        self._max_steps = max_steps
        self._steps = 0
        self._pending: deque[Step] = deque()
        self._current: Step | None = None
        self._menus: list[str] = []  # entered menus, the current one last; "back" pops
        self._attempt = 0

    def start(self) -> Step:
        """The first step of the call."""
        if self._current is not None:
            raise RuntimeError("start() was already called for this call")
        return self._advance(self._begin)

    def keys(self, digits: str | None) -> Step:
        """Answer a Collect with the digits pressed; None or "" when the caller pressed none."""
        self._expect(Collect, "keys()")
        return self._advance(lambda: self._answer(digits))

    def played(self) -> Step:
        """Say a Play step has been played."""
        self._expect(Play, "played()")
        return self._advance(list)

    def _expect(self, kind: type, call: str) -> None:
        if self.decision is None and not isinstance(self._current, kind):
            current = type(self._current).__name__ if self._current else "nothing (call start())"
            raise RuntimeError(
                f"{call} answers a {kind.__name__} step; the current step is {current}"
            )

    def _advance(self, compute: Callable[[], list[Step]]) -> Step:
        if self.decision is not None:
            return self.decision
        try:
            self._pending.extend(compute())
        except Exception as exc:  # a bug must not drop a call: note it, queue the caller
            self._pending.clear()
            self._pending.append(self._fallback("error", error=f"{type(exc).__name__}: {exc}"))
        step = self._pending.popleft()
        if not isinstance(step, Decision):
            self._steps += 1
            if self._steps > self._max_steps:
                step = self._fallback("loop_guard", steps=self._max_steps)
            elif isinstance(step, Collect):
                self._event(
                    TimelineKind.IVR_PROMPT,
                    menu=step.menu,
                    prompt=step.prompt,
                    attempt=step.attempt,
                )
        if isinstance(step, Decision):
            self.decision = step
            self._pending.clear()
        self._current = step
        return step

    def _begin(self) -> list[Step]:
        # Every caller hears it first, whatever the route (every call is recorded).
        announcement = self.settings.recording_announcement
        return [Play(announcement), *self._route()] if announcement else self._route()

    def _route(self) -> list[Step]:
        did = self.did
        self._event(
            TimelineKind.DID,
            dialed=self.dialed,
            digits=did.digits,
            caller=self.caller,
            known=did.known,
            match=did.match,
            did=did.did.number if did.did else None,
            source=did.source,
            city=did.city,
        )
        if not did.known or did.did is None:
            return [self._default("unknown_did")]
        if did.did.schedule is not None:
            schedule = self.settings.schedules.get(did.did.schedule)
            if schedule is None:
                return [self._fallback("unknown_schedule", schedule=did.did.schedule)]
            self.hours = check_hours(schedule, self.at)
            self._event(
                TimelineKind.HOURS,
                schedule=schedule.name,
                open=self.hours.open,
                reason=self.hours.reason,
                local=self.at.astimezone(schedule.zone).isoformat(timespec="seconds"),
            )
            if not self.hours.open:
                action = schedule.closed_action
                self._event(
                    TimelineKind.CLOSED_HOURS,
                    schedule=schedule.name,
                    reason=self.hours.reason,
                    action=action.kind,
                    target=action.target,
                )
                return self._follow(action, "closed")
        return self._follow(did.entry, "did")

    def _answer(self, digits: str | None) -> list[Step]:
        menu = self._menu()
        result = ivr.answer(menu, digits, self._attempt)
        self.ivr_path.append(result.path)
        if result.kind == "option" and result.action is not None:
            self._event(
                TimelineKind.IVR_KEY,
                menu=menu.name,
                digits=result.path,
                action=result.action.kind,
                target=result.action.target,
            )
            return self._follow(result.action, "option")
        self._event(
            TimelineKind(f"ivr_{result.kind}"), menu=menu.name, digits=digits, attempt=self._attempt
        )
        steps: list[Step] = [Play(result.prompt)] if result.prompt else []
        if not result.exhausted:
            self._attempt += 1
            return [*steps, self._collect()]
        self._event(TimelineKind.IVR_RETRIES_EXHAUSTED, menu=menu.name, attempts=self._attempt)
        self.ivr_path.append("default")
        return steps + self._follow(menu.default, "default")

    def _follow(self, action: Action, origin: str) -> list[Step]:
        """The steps an action leads to; origin is did, closed, option or default."""
        kind = action.kind
        if kind == "queue":
            return [self._queue(action.target, _QUEUE_REASONS[origin])]
        if kind == "menu":
            return self._enter(action.target)
        if kind == "hangup" and origin in _HANGUP_REASONS:
            if origin != "closed":
                self._event(TimelineKind.IVR_HANGUP, menu=self._menus[-1], message=action.message)
            steps: list[Step] = [Play(action.message)] if action.message else []
            return [*steps, Decision("hangup", None, None, action.message, _HANGUP_REASONS[origin])]
        if kind == "voicemail" and origin in _VOICEMAIL_REASONS:
            greeting = action.message or VOICEMAIL_GREETING
            return [
                Play(greeting),
                Decision(
                    "voicemail",
                    None,
                    None,
                    greeting,
                    _VOICEMAIL_REASONS[origin],
                    action.max_message_sec or VOICEMAIL_MAX_SEC,
                ),
            ]
        if kind == "repeat" and origin == "option":
            return [self._collect()]
        if kind == "back" and origin == "option":
            return self._back()
        return [self._fallback("action_not_allowed", kind=kind, origin=origin)]

    def _enter(self, name: str | None) -> list[Step]:
        menu = self.settings.menus.get(name or "")
        if menu is None:
            return [self._fallback("unknown_menu", menu=name)]
        self._event(
            TimelineKind.IVR_ENTERED,
            menu=menu.name,
            previous=self._menus[-1] if self._menus else None,
        )
        self._menus.append(menu.name)
        self._attempt = 1
        self.ivr_path.append(menu.name)
        return [self._collect()]

    def _back(self) -> list[Step]:
        here = self._menus[-1]
        if len(self._menus) > 1:  # at the top menu "back" just plays it again
            self._menus.pop()
            self._attempt = 1
        self._event(TimelineKind.IVR_BACK, menu=here, to=self._menus[-1])
        self.ivr_path.append(self._menus[-1])
        return [self._collect()]

    def _queue(self, name: str | None, reason: str) -> Decision:
        queue = self.settings.queues.get(name or "")
        if queue is None:
            return self._fallback("unknown_queue", queue=name)
        self._event(TimelineKind.QUEUE_CHOSEN, queue=queue.name, reason=reason)
        return Decision("queue", queue.name, queue.max_wait_sec, None, reason)

    def _default(self, reason: str) -> Decision:
        decision = default_decision(self.settings, reason)
        self._event(TimelineKind.QUEUE_CHOSEN, queue=decision.queue, reason=reason)
        return decision

    def _fallback(self, reason: str, /, **data: object) -> Decision:
        self._event(TimelineKind.FALLBACK, reason=reason, **data)
        return self._default(reason)

    def _menu(self) -> Menu:
        return self.settings.menus[self._menus[-1]]

    def _collect(self) -> Collect:
        return ivr.collect(self._menu(), self._attempt)

    def _event(self, kind: TimelineKind, /, **data: object) -> None:
        self.events.append(FlowEvent(kind, {key: _text(value) for key, value in data.items()}))


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class SimulatedCall:
    """A whole call run through CallFlow: every step, the decision, the timeline.

    `queues` is every queue the call reached, in order (more than one after an overflow).
    """

    steps: list[Step]
    decision: Decision
    events: list[FlowEvent]
    ivr_path: list[str]
    did: DidMatch
    hours: HoursCheck | None
    queues: list[str] = field(default_factory=list)


def simulate(
    settings: FlowSettings,
    dialed: str,
    caller: str,
    at: datetime,
    keys: Sequence[str | None] = (),
    queues: Sequence[str] = (),
) -> SimulatedCall:
    """Run a call with the given answers to its prompts; once they run out, the caller is silent.

    `queues` says what each queue the call reaches does, in order: answered, empty or
    timeout (QUEUE_OUTCOMES); once they run out, the queue answers.
    """
    flow = CallFlow(settings, dialed, caller, at)
    answers = deque(keys)
    step = flow.start()
    steps = [step]
    while not isinstance(step, Decision):
        if isinstance(step, Collect):
            step = flow.keys(answers.popleft() if answers else None)
        else:
            step = flow.played()
        steps.append(step)
    events, reached = list(flow.events), []
    outcomes = deque(queues)
    hops = 0
    while step.action == "queue" and step.queue:
        reached.append(step.queue)
        outcome = outcomes.popleft() if outcomes else "answered"
        if outcome not in QUEUE_OUTCOMES:
            raise ValueError(
                f"queue outcome {outcome!r} should be one of {', '.join(QUEUE_OUTCOMES)}"
            )
        if outcome == "answered":
            break
        overflow = decide_overflow(settings, step.queue, QUEUE_OUTCOMES[outcome], hops)
        hops += 1
        steps.extend(overflow.steps)
        events.extend(overflow.events)
        step = overflow.decision
    return SimulatedCall(steps, step, events, flow.ivr_path, flow.did, flow.hours, reached)
