"""What a caller's keys do in one voice menu."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dialplan.settings import Action, Menu
from dialplan.steps import Collect


@dataclass(frozen=True)
class MenuAnswer:
    """The outcome of one try at a menu."""

    kind: Literal["option", "invalid", "timeout"]
    path: str  # the ivr_path entry: "1", "9:invalid" or "timeout"
    action: Action | None  # the option pressed, or the menu's default once tries run out
    prompt: str | None  # played before whatever comes next
    exhausted: bool = False


def attempts_allowed(menu: Menu) -> int:
    """How many times the caller hears the menu before its default applies."""
    return 1 + max(menu.retries, 0)


def collect(menu: Menu, attempt: int) -> Collect:
    """The step that plays the menu and reads a key."""
    longest = max((len(digit) for digit in menu.options), default=1)
    return Collect(menu.prompt, menu.timeout_sec * 1000, longest, menu.name, attempt)


def answer(menu: Menu, digits: str | None, attempt: int) -> MenuAnswer:
    """What the keys pressed on the given try do; None or "" means the caller pressed nothing.

    A wrong key plays the invalid prompt every time, the last try too, so the caller
    knows why the menu ended; the timeout prompt only comes before a replay.
    """
    exhausted = attempt >= attempts_allowed(menu)
    keys = (digits or "").strip()
    if not keys:
        return MenuAnswer(
            "timeout",
            "timeout",
            menu.default if exhausted else None,
            None if exhausted else menu.timeout_prompt,
            exhausted,
        )
    option = menu.options.get(keys)
    if option is not None:
        return MenuAnswer("option", keys, option, None)
    return MenuAnswer(
        "invalid",
        f"{keys}:invalid",
        menu.default if exhausted else None,
        menu.invalid_prompt,
        exhausted,
    )
