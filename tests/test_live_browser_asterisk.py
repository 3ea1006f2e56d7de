"""The live pages on real calls: the sandbox Asterisk, `callcards agi`'s floor listener, the
site on the same PostgreSQL and Chromium, joined.

A caller presses 1 for the queue `appointments`, which rings only operator1's test phone
(Local/101@cc-test-operators/n, answering after a second): the supervisor's wallboard shows
the caller waiting, operator1 ringing, then talking; operator1's workspace pops the card
from the stream's RINGING event (the card is asked for once, when the event comes: nothing
polls), counts the wrap-up down after the hang-up; operator1 saves the card in the page, the
wrap-up ends and the wallboard shows them ready; the supervisor pauses them from the
wallboard for a reason through the real PbxClient and AMI, and the wallboard says why.
The wallboard's page records each state it showed (a MutationObserver), so a short ring
cannot slip between two looks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import LiveWrapup
from pbx.pause import member_state, set_paused
from tests.asterisk_driver import AsteriskDriver
from tests.card_polling import wait_card
from tests.softphone import CHROMIUM, CHROMIUM_ARGS, serve
from tests.test_calls_asterisk import CALLER, DID, reach_menu_and_press
from tests.test_live_floor_asterisk import (  # noqa: F401 (fixtures)
    ANNA,
    QUEUE,
    Floor,
    ami,
    ami_client_for,
    complete_card,
    floor,
    state_becomes,
)
from webadmin import create_app

pytestmark = [pytest.mark.asterisk, pytest.mark.browser]

SECRET_KEY = "live-browser-tests-secret"  # noqa: S105 - the test site's own

#: Records, in the wallboard's page, every state operator1's row and the queue's waiting
#: figure showed, in order (window.seen.states / window.seen.waiting).
RECORD_BOARD = """
(() => {
  const seen = window.seen = { states: [], waiting: [] };
  const note = (list, value) => {
    if (value !== null && list[list.length - 1] !== value) { list.push(value); }
  };
  const look = () => {
    const row = document.querySelector('#board-operators tr[data-interface="ANNA"]');
    note(seen.states, row ? row.getAttribute("data-state") : null);
    const queue = document.querySelector('#board-queues tr[data-queue="QUEUE"]');
    const cell = queue ? queue.querySelector('[data-cell="waiting"]') : null;
    note(seen.waiting, cell ? cell.textContent.trim() : null);
  };
  new MutationObserver(look).observe(document, {
    subtree: true, childList: true, attributes: true, characterData: true,
  });
})();
""".replace("ANNA", ANNA).replace("QUEUE", QUEUE)


@pytest.fixture
def site_url(floor: Floor) -> Iterator[str]:  # noqa: F811
    """The site on the floor's database and sandbox (CSRF on, as in production)."""
    settings = replace(floor.settings, secret_key=SECRET_KEY)
    app = create_app(settings, {"TESTING": True})
    with serve(app) as url:
        yield url
    app.extensions["live_hub"].stop()  # its LISTEN connection, before the database goes


@pytest.fixture
async def chromium() -> AsyncIterator[Any]:
    """Debian's Chromium, looking up no name."""
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/test.sh (apt-get install -y chromium)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        yield browser
        await browser.close()


async def signed_in_page(chromium: Any, site_url: str, login: str, script: str = "") -> Any:
    """A browser of its own signed in as `login` (password as the login), in English."""
    context = await chromium.new_context(base_url=site_url, locale="en-GB")
    if script:
        await context.add_init_script(script)
    page = await context.new_page()
    await page.goto("/login")
    await page.fill("#login", login)
    await page.fill("#password", login)
    await page.click("button.primary")
    await page.wait_for_load_state()
    await page.click('.langswitch button[value="en"]')
    await page.wait_for_load_state()
    return page


async def board_showed(page: Any, what: str, value: str, timeout: float = 30) -> None:
    """Until the wallboard has shown `value` in window.seen[`what`]."""
    await page.wait_for_function(
        "([what, value]) => !!window.seen && window.seen[what].includes(value)",
        arg=[what, value],
        timeout=timeout * 1000,
    )


async def test_a_real_call_on_the_wallboard_and_the_workspace_then_a_pause_from_the_board(
    ami: AsteriskDriver,  # noqa: F811
    floor: Floor,  # noqa: F811
    sessions: sessionmaker[Session],
    chromium: Any,
    site_url: str,
) -> None:
    board = await signed_in_page(chromium, site_url, "supervisor", RECORD_BOARD)
    await board.goto("/live/wallboard")
    row = f'#board-operators tr[data-interface="{ANNA}"]'
    await board.wait_for_selector(f'{row}[data-state="ready"]')
    desk = await signed_in_page(chromium, site_url, "operator1")
    asked: list[str] = []
    desk.on(
        "request",
        lambda request: asked.append(request.url) if "/workspace/current" in request.url else None,
    )
    await desk.wait_for_selector('#live-state[data-state="ready"]')

    call = None
    try:
        await ami.set_global("CC_TEST_ANSWER_DELAY", "1")  # a ring the pages can show
        call = await ami.call(DID, CALLER)
        await reach_menu_and_press(ami, call, "1")
        card = await wait_card(sessions, call.linkedid, lambda _: True)
        await desk.wait_for_selector(f'#popped-card[data-call-id="{card.id}"]', timeout=30_000)
        connect = await ami.wait_for_operator(call, QUEUE)
        await board_showed(board, "states", "talking")
        assert "Incoming call" in await desk.inner_text("#popped-card")
        assert CALLER in await desk.inner_text("#popped-card")
        states = await board.evaluate("window.seen.states")
        assert states[:3] == ["ready", "ringing", "talking"], states
        waiting = await board.evaluate("window.seen.waiting")
        assert "1" in waiting and waiting[-1] == "0", waiting  # the caller waited, then not
        # The card came from the stream: asked for when the events came, never on a timer.
        before_hangup = len(asked)
        assert 1 <= before_hangup <= 2, asked  # the RINGING event, then the answer

        await asyncio.sleep(1.0)
        await ami.operator_hangup(connect.destchannel)
        await ami.wait_hungup(call)
        await desk.wait_for_selector('#live-state[data-state="wrapup"]', timeout=30_000)
        assert "Wrap-up:" in await desk.inner_text("#live-state")
        assert "left" in await desk.inner_text("#live-state")  # the countdown
        await board_showed(board, "states", "wrapup")
        with ami_client_for(floor) as client:
            held = member_state(client, ANNA)
        assert (held.paused, held.reason) == (True, "wrap-up")

        # The operator saves a complete card in the page: the wrap-up ends, ready again.
        form = "#card-form"
        await desk.select_option(f"{form} select[name=purpose]", index=1)
        await desk.select_option(f"{form} select[name=category]", index=1)
        await desk.fill(f"{form} textarea[name=notes]", "Booked for Tuesday")
        await desk.click(f"{form} button[type=submit]")
        await desk.wait_for_selector('#live-state[data-state="ready"]', timeout=30_000)
        await board.wait_for_selector(f'{row}[data-state="ready"]', timeout=30_000)
        with sessions() as session:
            held_row = session.scalars(
                select(LiveWrapup).where(LiveWrapup.linkedid == call.linkedid)
            ).one()
        assert held_row.ended_by == "card_completed"
        with ami_client_for(floor) as client:
            assert not member_state(client, ANNA).paused
        assert await board.evaluate("window.seen.states") == [
            "ready",
            "ringing",
            "talking",
            "wrapup",
            "ready",
        ]

        # The supervisor pauses operator1 from the wallboard, for a reason, through AMI.
        await board.select_option(f'{row} form[data-act="pause"] select', "training")
        await board.click(f'{row} form[data-act="pause"] button')
        await board.wait_for_selector(".flash-success")
        paused = await board.wait_for_selector(f'{row}[data-state="paused"]', timeout=30_000)
        assert "Training" in await paused.inner_text()
        with ami_client_for(floor) as client:
            state = member_state(client, ANNA)
        assert (state.paused, state.reason) == (True, "training")
        await state_becomes(
            sessions, floor.user_id, lambda r: (r.state, r.reason) == ("paused", "training")
        )
    finally:  # operator1 ready again for the module's next test, whatever happened
        # operator1's workspace registered their browser phone: end that registration, or its
        # contact holds the endpoint's one place in Asterisk for later modules' phones.
        with contextlib.suppress(Exception):
            await desk.evaluate(
                "() => new Promise(done => window.callcardsPhone"
                " ? window.callcardsPhone.stop(done) : done())"
            )
        await ami.set_global("CC_TEST_ANSWER_DELAY", "0")
        await ami.command("channel request hangup all")
        if call is not None:
            complete_card(sessions, call.linkedid)
        with ami_client_for(floor) as client:
            set_paused(client, ANNA, False)
        await state_becomes(sessions, floor.user_id, lambda r: r.state == "ready", timeout=90)
