"""Which open wrap-ups end now, and why: the card is complete, or the queue's time is up.

The listener asks every second (TICK_SEC) with the open wrap-ups the tracker holds and the
calls whose cards are complete (live/store.py `completed`), then hands each ending to
`Tracker.end_wrapup`, which unpauses the operator or begins the break they asked for.

After-call work (docs/metrics.md) runs from the hang-up to the complete card; a wrap-up
interval is that time while it is held, and ends at the queue's `wrapup_hold_sec` at most.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from datetime import datetime

from live.tracker import Wrapup

#: Why a wrap-up ended (live_wrapups.ended_by).
CARD_COMPLETED = "card_completed"
TIME_UP = "time_up"


def endings(
    open_wrapups: Mapping[str, Wrapup], completed: Set[str], now: datetime
) -> list[tuple[str, str]]:
    """(interface, why) for each wrap-up that ends at `now`; a complete card wins a tie."""
    ending = []
    for where, wrapup in sorted(open_wrapups.items()):
        if wrapup.linkedid in completed:
            ending.append((where, CARD_COMPLETED))
        elif wrapup.ends_at <= now:
            ending.append((where, TIME_UP))
    return ending
