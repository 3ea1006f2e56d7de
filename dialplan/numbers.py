"""Which numbers a caller can be called back on, and which we may dial: the one allowlist.

Click-to-call (webadmin), the automatic callback dialler and the dialplan's `outbound` AGI
route all ask `check_outbound`; the callback tasks ask `callable_number` whether a caller's
number is worth a task at all (anonymous and malformed numbers are not).

Patterns come from CALLCARDS_OUTBOUND_NUMBERS: comma-separated, `X` a digit, `N` 2-9, `Z` 1-9,
`.` any further digits, `!` refuses what follows it; the first pattern that matches decides.
The default (callcards.config.DEFAULT_OUTBOUND_NUMBERS) allows local and national numbers
and refuses premium (8-809...) and international ones (810..., 00..., + but +7); a number
with "+" is read as "00" and its digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

#: The longest number anyone dials (E.164 allows 15 digits).
MAX_DIGITS = 15
#: Shorter than this is an internal extension or a service code, never a customer.
MIN_DIGITS = 3
#: What Asterisk and carriers put in CALLERID(num) for a hidden number.
ANONYMOUS = frozenset({"", "anonymous", "unknown", "restricted", "private", "unavailable"})
_SEPARATORS = re.compile(r"[\s\-().]")


class Refusal(StrEnum):
    """Why a number may not be dialled (the card's end reason when the dialplan refuses it)."""

    NO_DIGITS = "number_empty"
    TOO_LONG = "number_too_long"
    NOT_ALLOWED = "number_not_allowed"


@dataclass(frozen=True)
class Pattern:
    """One allowlist pattern: Asterisk-like digits, and whether a match allows or refuses."""

    text: str
    allow: bool

    def matches(self, digits: str) -> bool:
        """True when the pattern covers these digits."""
        return _compile(self.text).fullmatch(digits) is not None


def _compile(text: str) -> re.Pattern[str]:
    parts = []
    for char in text:
        if char == "X":
            parts.append("[0-9]")
        elif char == "N":
            parts.append("[2-9]")
        elif char == "Z":
            parts.append("[1-9]")
        elif char == ".":
            parts.append("[0-9]+")
        elif char.isdigit():
            parts.append(char)
        else:
            raise ValueError(f"{char!r} is not a digit, X, N, Z or . in pattern {text!r}")
    return re.compile("".join(parts))


def read_patterns(text: str) -> tuple[Pattern, ...]:
    """Patterns from CALLCARDS_OUTBOUND_NUMBERS (raises ValueError on a bad one)."""
    patterns = []
    for item in text.split(","):
        item = item.strip().upper()
        if not item:
            continue
        allow = not item.startswith("!")
        body = item.lstrip("!")
        _compile(body)
        patterns.append(Pattern(body, allow))
    return tuple(patterns)


def digits_of(raw: str | None) -> str:
    """A number with spaces, dashes and brackets taken out; '+' kept; '' for none."""
    return _SEPARATORS.sub("", (raw or "").strip())


def callable_number(raw: str | None) -> str | None:
    """The caller's number as we would dial it back, or None: anonymous or malformed."""
    number = digits_of(raw)
    if number.lower() in ANONYMOUS:
        return None
    bare = number.removeprefix("+")
    if not bare.isdigit() or not MIN_DIGITS <= len(bare) <= MAX_DIGITS:
        return None
    return number


def check_outbound(raw: str | None, patterns: tuple[Pattern, ...]) -> Refusal | None:
    """None when the number may be dialled; otherwise why not."""
    number = digits_of(raw)
    if number.startswith("+"):
        number = "00" + number[1:]  # an international number, by the same rule
    if not number.isdigit():
        return Refusal.NO_DIGITS if not any(c.isdigit() for c in number) else Refusal.NOT_ALLOWED
    if len(number) > MAX_DIGITS:
        return Refusal.TOO_LONG
    for pattern in patterns:
        if pattern.matches(number):
            return None if pattern.allow else Refusal.NOT_ALLOWED
    return Refusal.NOT_ALLOWED
