"""Virtual hold: a queue offers its waiting callers a callback ("press 1 to be called back").

A queue's `callback_offer` in the call-flow document (dialplan.settings documents the rest)::

    "callback_offer": {"after_sec": 60,   # default 0 = no offer; 0 to 3600: seconds of
                                          # waiting before the first offer
                       "key": "1",        # default "1"; one digit 0-9: the key that takes it
                       "repeat_sec": 60,  # default 60, 10 to 3600: the offer again every ...
                       "prompt": "callcards/callback-offer"}  # the default: the offer, one
                                          # sound (an uploaded prompt: "press 1 to be called
                                          # back, keeping your place")

Absent or null: no offer (versions from before it read the same). Asterisk makes the offer
(pbx.queues_conf renders it as the queue's periodic announcement and exit-to-context); the
FastAGI route `callback` (fastagi/routes/callback.py) takes the caller's number.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from dialplan.document import CallbackOfferDoc, Fields, SettingsError, keys_of
from dialplan.numbers import MAX_DIGITS, Pattern, callable_number, check_outbound

#: Limits of the offer's times, in seconds: past an hour nobody waits for it.
AFTER_SEC_LIMITS = (0, 3600)
REPEAT_SEC_LIMITS = (10, 3600)
KEYS = frozenset("0123456789")
#: The offer's sound when none is set: app_queue plays a periodic announcement as one file
#: (it checks the name exists: "a&b" plays nothing), and no core sound says "press 1 to be
#: called back", so it is a prompt uploaded on the Prompts page.
DEFAULT_PROMPT = "callcards/callback-offer"
#: What a sound name in queues.conf may hold (a "," would start a second announcement).
PROMPT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_./-]{0,127}$")


@dataclass(frozen=True)
class CallbackOffer:
    """When and how a queue offers its waiting callers a callback."""

    after_sec: int = 0  # 0: no offer
    key: str = "1"
    repeat_sec: int = 60
    prompt: str = DEFAULT_PROMPT

    @property
    def on(self) -> bool:
        """Whether callers are offered a callback at all."""
        return self.after_sec > 0

    def sentence(self) -> str:
        """What the offer does, as the simulator says it."""
        if not self.on:
            return "no callback is offered"
        return (
            f"after {self.after_sec} s the caller is offered a callback "
            f"(press {self.key}; again every {self.repeat_sec} s)"
        )


NO_OFFER = CallbackOffer()


def read_offer(obj: Any, where: str) -> CallbackOffer:
    """A queue's callback_offer; SettingsError naming the place when it is wrong."""
    if obj is None:
        return NO_OFFER
    fields = Fields(obj, where, *keys_of(CallbackOfferDoc))
    after = fields.number("after_sec", 0, *AFTER_SEC_LIMITS)
    key = fields.optional_text("key") or "1"
    if key not in KEYS:
        raise SettingsError.at(where, f"key {key!r} should be one digit, 0-9")
    repeat = fields.number("repeat_sec", 60, *REPEAT_SEC_LIMITS)
    prompt = fields.optional_text("prompt") or DEFAULT_PROMPT
    if not PROMPT_NAME.match(prompt) or ".." in prompt:
        raise SettingsError.at(
            where, f"prompt {prompt!r} should be a sound name like callcards/callback-offer"
        )
    return CallbackOffer(after, key, repeat, prompt)


def dump_offer(offer: CallbackOffer) -> CallbackOfferDoc:
    """The offer as the document keeps it."""
    return {
        "after_sec": offer.after_sec,
        "key": offer.key,
        "repeat_sec": offer.repeat_sec,
        "prompt": offer.prompt,
    }


#: The fewest digits of a number a caller gives for their callback. Whether a number may be
#: called at all is dialplan.numbers' one rule (`callable_number`, the allowlist's
#: `check_outbound`); a number given on the phone must also be this long, because there a
#: 3-4 digit number is a mistyped one or an internal extension, and the caller is asked
#: again rather than promised a call that reaches nobody.
CALLBACK_MIN_DIGITS = 5
#: What a caller may type: one digit more than a number can have, so "too long" shows.
TYPED_MAX_DIGITS = MAX_DIGITS + 1
#: The end reason (and timeline kind) of a card whose caller asked to be called back.
CALLBACK_REQUESTED = "callback_requested"


def callback_number(text: str | None, allowed: tuple[Pattern, ...] | None = None) -> str | None:
    """`text` as a number to call back (its digits, no "+"), or None when it cannot be one:
    not callable by dialplan.numbers (anonymous, not digits, too long), shorter than
    CALLBACK_MIN_DIGITS, or refused by the outbound allowlist `allowed` when given."""
    number = callable_number(text)
    if number is None or len(number.removeprefix("+")) < CALLBACK_MIN_DIGITS:
        return None
    if allowed is not None and check_outbound(number, allowed) is not None:
        return None
    return number.removeprefix("+")
