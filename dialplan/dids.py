"""Which DID a call came in on, whatever form the trunk wrote the number in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dialplan.settings import Action, Did, FlowSettings

# Russian numbers come as +7 495..., 7 495... or 8 495...: the last 10 digits are the number.
NATIONAL_DIGITS = 10

DidMatchKind = Literal["exact", "last_digits", "inactive", "unknown"]


@dataclass(frozen=True)
class DidMatch:
    """The DID found for a dialled number and where its call enters."""

    dialed: str
    digits: str
    did: Did | None  # also set for an inactive DID, which still routes as unknown
    known: bool
    match: DidMatchKind
    entry: Action

    @property
    def source(self) -> str | None:
        """The campaign or source label of a known DID."""
        return self.did.source if self.did and self.known else None

    @property
    def city(self) -> str | None:
        """The city of a known DID."""
        return self.did.city if self.did and self.known else None


def number_digits(number: str) -> str:
    """The digits of a phone number, without +, spaces, dashes or brackets."""
    return "".join(char for char in number if char.isdigit())


def same_number(a: str, b: str) -> bool:
    """Whether two digit strings are the same number (equal, or equal in the last 10 digits)."""
    if a == b:
        return True
    tail = NATIONAL_DIGITS
    return len(a) >= tail and len(b) >= tail and a[-tail:] == b[-tail:]


def resolve_did(settings: FlowSettings, dialed: str) -> DidMatch:
    """Find the DID for a dialled number; unknown or inactive ones enter the default queue."""
    digits = number_digits(dialed)
    dids = [(number_digits(did.number), did) for did in settings.dids.values()]
    exact = [did for did_digits, did in dids if digits and did_digits == digits]
    tail = [did for did_digits, did in dids if digits and same_number(did_digits, digits)]
    searches: tuple[tuple[list[Did], DidMatchKind], ...] = ((exact, "exact"), (tail, "last_digits"))
    for candidates, match in searches:
        for did in candidates:
            if did.active:
                return DidMatch(dialed, digits, did, True, match, did.entry)
    fallback = Action("queue", settings.default_queue)
    inactive = exact + tail
    if inactive:
        return DidMatch(dialed, digits, inactive[0], False, "inactive", fallback)
    return DidMatch(dialed, digits, None, False, "unknown", fallback)
