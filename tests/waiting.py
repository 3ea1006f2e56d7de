"""Waiting for a condition with a deadline, instead of sleeping and hoping it came true."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

#: Generous: a deadline only says when to give up on a condition that never comes.
DEADLINE = 20.0


def wait_until(
    condition: Callable[[], object], timeout: float = DEADLINE, what: str = "the condition"
) -> None:
    """Return as soon as `condition()` is true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come true in {timeout} s")
        time.sleep(0.01)


async def eventually(
    condition: Callable[[], object],
    timeout: float = DEADLINE,
    what: str = "the condition",
    every: float = 0.005,
) -> None:
    """wait_until for a test on the event loop: the loop runs while it waits."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come true in {timeout} s")
        await asyncio.sleep(every)
