"""Figures of the screen-pop on real calls, for `callcards bench screenpop` (not a test).

Run by bench/screenpop.py as `pytest tests/bench_screenpop.py` so it reuses the live browser
test's fixtures (the sandbox, `callcards agi` with its floor listener, the site on the same
PostgreSQL, Chromium); it measures, asserts nothing about speed, and writes its samples as
JSON to $CALLCARDS_BENCH_SCREENPOP_JSON. Per call, on the machine's one wall clock: Asterisk's
AgentCalled (the AMI event's Timestamp), the listener's RINGING event (live_events.at, when
the listener wrote it), the event reaching the page (its EventSource), the card shown in the
workspace (a MutationObserver in the page).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from live.bus import EventKind
from models import LiveEvent
from tests.asterisk_driver import AsteriskDriver
from tests.card_polling import wait_card
from tests.test_calls_asterisk import CALLER, DID, reach_menu_and_press
from tests.test_live_browser_asterisk import (  # noqa: F401 - fixtures
    ANNA,
    QUEUE,
    Floor,
    ami,
    chromium,
    complete_card,
    floor,
    signed_in_page,
    site_url,
    state_becomes,
)

#: In the page: the wall-clock time (epoch ms) each card was first shown, by call id, and
#: each RINGING event reached the page (before the page's own handler), by linkedid.
RECORD_POPS = """
(() => {
  const rang = window.rang = {};
  const Native = window.EventSource;
  const Watched = function (url, options) {
    const source = new Native(url, options);
    source.addEventListener("ringing", (message) => {
      const linkedid = (JSON.parse(message.data).data || {}).linkedid;
      if (linkedid && !(linkedid in rang)) {
        rang[linkedid] = performance.timeOrigin + performance.now();
      }
    });
    return source;
  };
  Object.setPrototypeOf(Watched, Native);
  Watched.prototype = Native.prototype;
  window.EventSource = Watched;
  const popped = window.popped = {};
  new MutationObserver(() => {
    const card = document.getElementById("popped-card");
    const id = card ? card.getAttribute("data-call-id") : null;
    if (id && !(id in popped)) { popped[id] = performance.timeOrigin + performance.now(); }
  }).observe(document, { subtree: true, childList: true });
})();
"""


def _epoch_ms(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000


def _ringing_at(sessions: sessionmaker[Session], linkedid: str) -> float | None:
    """When the listener wrote the call's RINGING event (epoch ms)."""
    with sessions() as session:
        rows = session.scalars(
            select(LiveEvent)
            .where(LiveEvent.kind == EventKind.RINGING.value)
            .order_by(LiveEvent.id.desc())
            .limit(20)
        )
        for row in rows:
            if row.data.get("linkedid") == linkedid:
                return _epoch_ms(row.at)
    return None


async def test_screenpop_figures(
    ami: AsteriskDriver,  # noqa: F811
    floor: Floor,  # noqa: F811
    sessions: sessionmaker[Session],
    chromium: Any,  # noqa: F811
    site_url: str,  # noqa: F811
) -> None:
    out = Path(os.environ.get("CALLCARDS_BENCH_SCREENPOP_JSON", "screenpop.json"))
    calls = int(os.environ.get("CALLCARDS_BENCH_SCREENPOP_CALLS", "20"))
    desk = await signed_in_page(chromium, site_url, "operator1", RECORD_POPS)
    await desk.wait_for_selector('#live-state[data-state="ready"]')
    asked: list[str] = []
    desk.on(
        "request",
        lambda request: asked.append(request.url) if "/workspace/current" in request.url else None,
    )
    # Operators take a moment to answer: a card that pops only at the answer shows.
    await ami.set_global("CC_TEST_ANSWER_DELAY", "2")
    samples: list[dict[str, float | None]] = []
    for _ in range(calls):
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "1")
        _, called = await ami.wait_for(
            lambda e: e.event == "AgentCalled" and str(e.interface) == ANNA, since=call.since
        )
        card = await wait_card(sessions, call.linkedid, lambda _: True)
        await desk.wait_for_selector(f'#popped-card[data-call-id="{card.id}"]', timeout=30_000)
        connect = await ami.wait_for_operator(call, QUEUE)
        shown = float(await desk.evaluate(f"() => window.popped['{card.id}']"))
        reached = await desk.evaluate(f"() => window.rang[{call.linkedid!r}] || null")
        agent_called = float(called.timestamp) * 1000
        published = _ringing_at(sessions, call.linkedid)
        samples.append(
            {
                "agent_called_to_pop_ms": shown - agent_called,
                "agent_called_to_event_ms": None if published is None else published - agent_called,
                "agent_called_to_page_ms": None if reached is None else reached - agent_called,
            }
        )
        await ami.operator_hangup(connect.destchannel)
        await ami.wait_hungup(call)
        await state_becomes(sessions, floor.user_id, lambda r: r.state == "wrapup")
        complete_card(sessions, call.linkedid)
        await state_becomes(sessions, floor.user_id, lambda r: r.state == "ready")
    await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
    out.write_text(
        json.dumps(
            {
                "calls": calls,
                "samples": samples,
                "card_requests": len(asked),
            },
            indent=2,
        )
    )
