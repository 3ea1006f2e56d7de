"""The live pages in Chromium: the wallboard follows published events, its alert, TV mode, a
supervisor's pause from the board, and the workspace's screen-pop from a RINGING event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from live.bus import EventKind, publish
from live.floor import Floor, OperatorNow
from models import utcnow
from models.live import AgentState, LiveFloor
from models.session import transaction
from pbx.client import PbxClient
from pbx.pause import MemberState
from tests.live_events import empty_floor, published  # noqa: F401 (a fixture)
from tests.web.conftest import console_errors, screenshot, sign_in, user_id, visit
from tests.web.test_workspace import _ringing

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("empty_floor")]


class FakePbx(PbxClient):
    """Asterisk as the supervisor's buttons reach it (the AMI pause is tested elsewhere)."""

    told: list[tuple[str, bool, str]] = []

    def pause_operator(self, extension: str, paused: bool, reason: str = "") -> MemberState:
        FakePbx.told.append((extension, paused, reason))
        return MemberState(("reception",), paused, reason)


def _operator(
    sessions: sessionmaker[Session], login: str, state: AgentState, **more: Any
) -> OperatorNow:
    extension = {"operator1": "101", "operator2": "102"}[login]
    names = {"operator1": "Ольга Операторова", "operator2": "Иван Петров"}
    return OperatorNow(
        interface=f"PJSIP/{extension}",
        user_id=user_id(sessions, login),
        name=names[login],
        state=state,
        since=utcnow() - timedelta(minutes=3),
        queues=["reception", "appointments"],
        **more,
    )


def _floor(sessions: sessionmaker[Session], *operators: OperatorNow) -> None:
    """The listener's picture: these operators, Asterisk connected."""
    with transaction(sessions) as session:
        event = publish(session, EventKind.FLOOR, {})
        floor = Floor(
            operators={o.interface: o for o in operators}, ami_connected=True, event_id=event
        )
        session.merge(LiveFloor(id=1, event_id=event, snapshot=floor.to_json(), ami_connected=True))


def test_the_wallboard_shows_callers_operators_and_the_alert_live(
    new_page: Callable[[], Any], sessions: sessionmaker[Session]
) -> None:
    _floor(sessions, _operator(sessions, "operator2", AgentState.READY))
    page = new_page()
    errors = console_errors(page)
    sign_in(page, "supervisor")
    visit(page, "/live/wallboard")
    row = '#board-queues tr[data-queue="reception"]'
    page.wait_for_selector('#board-operators tr[data-interface="PJSIP/102"][data-state="ready"]')
    assert page.inner_text(f'{row} [data-cell="ready"]') == "1"

    published(
        sessions,
        EventKind.CALLER_JOINED,
        {
            "linkedid": "w.1",
            "number": "+79161112233",
            "joined_at": utcnow().isoformat(),
            "position": 1,
        },
        queue="reception",
    )
    operator1 = _operator(sessions, "operator1", AgentState.PAUSED, reason="lunch")
    published(sessions, EventKind.OPERATOR, operator1.to_json(), user_id=operator1.user_id)
    page.wait_for_selector(f'{row} [data-cell="waiting"]:text-is("1")')
    paused = page.wait_for_selector(
        '#board-operators tr[data-interface="PJSIP/101"][data-state="paused"]'
    )
    assert "на паузе: Обед" in paused.inner_text()
    assert page.is_hidden("#board-alert")

    # A caller waiting longer than the queue's 60 s: the figure turns red, the alert shows.
    published(
        sessions,
        EventKind.CALLER_JOINED,
        {
            "linkedid": "w.2",
            "number": "+79035554433",
            "joined_at": (utcnow() - timedelta(minutes=2)).isoformat(),
            "position": 2,
        },
        queue="reception",
    )
    page.wait_for_selector("#board-alert:not([hidden])")
    assert "абонент ждёт дольше 1:00" in page.inner_text("#board-alert")
    assert page.get_attribute(f'{row} [data-cell="longest"]', "class") == "alert"
    assert page.inner_text(f'{row} [data-cell="waiting"]') == "2"
    screenshot(page, "wallboard")

    published(
        sessions, EventKind.CALLER_LEFT, {"linkedid": "w.2", "why": "abandoned"}, queue="reception"
    )
    page.wait_for_selector("#board-alert[hidden]", state="attached")

    page.click("#tv-enter")
    page.wait_for_selector("body.tv #board-queues")
    assert page.is_hidden(".topbar")
    assert page.query_selector("#board-operators form") is None  # no buttons on the TV
    font = page.eval_on_selector(
        f'{row} [data-cell="waiting"]', "e => parseFloat(getComputedStyle(e).fontSize)"
    )
    assert font >= 30  # readable across a room
    page.wait_for_selector('#board-operators tr[data-interface="PJSIP/101"][data-state="paused"]')
    screenshot(page, "wallboard-tv")
    assert errors == []


def test_a_supervisor_pauses_an_operator_from_the_wallboard(
    new_page: Callable[[], Any],
    sessions: sessionmaker[Session],
    csrf_app: Flask,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    FakePbx.told = []
    monkeypatch.setitem(csrf_app.extensions, "pbx", FakePbx(csrf_app.config["CALLCARDS_SETTINGS"]))
    _floor(sessions, _operator(sessions, "operator1", AgentState.READY))
    page = new_page()
    sign_in(page, "supervisor")
    visit(page, "/live/wallboard")
    row = page.wait_for_selector('#board-operators tr[data-interface="PJSIP/101"]')
    row.query_selector('form[data-act="pause"] select').select_option("training")
    row.query_selector('form[data-act="pause"] button').click()
    page.wait_for_selector(".flash-success")
    assert "Ольга Операторова на паузе: Обучение." in page.inner_text(".flash-success")
    assert FakePbx.told == [("101", True, "training")]

    admin = new_page()
    sign_in(admin, "admin")
    visit(admin, "/admin/audit")
    audit = admin.inner_text("table")
    assert "пауза оператора супервизором" in audit
    assert "Ольга Операторова · Обучение" in audit


def test_the_workspace_pops_the_card_from_a_ringing_event_without_polling(
    new_page: Callable[[], Any],
    sessions: sessionmaker[Session],
    make_call: Callable[..., int],
) -> None:
    _floor(sessions, _operator(sessions, "operator1", AgentState.READY))
    page = new_page()
    asked: list[str] = []
    page.on(
        "request",
        lambda request: asked.append(request.url) if "/workspace/current" in request.url else None,
    )
    sign_in(page, "operator1")
    page.wait_for_selector('#live-state[data-state="ready"]')
    assert "Готов к звонкам" in page.inner_text("#live-state")
    polled_before = len(asked)
    call_id = _ringing(make_call, src_number="+79161112233", queue="reception")
    operator1 = user_id(sessions, "operator1")
    published(
        sessions,
        EventKind.RINGING,
        {"linkedid": "x", "number": "+79161112233"},
        queue="reception",
        user_id=operator1,
    )
    page.wait_for_selector(f'#popped-card[data-call-id="{call_id}"]')
    assert polled_before == 0  # nothing was polled while the stream was up
    assert len(asked) == 1  # the card was asked for once, when the event came

    # Wrap-up: the state counts down and a break says it starts afterwards.
    ends = utcnow() + timedelta(minutes=2)
    wrapup = _operator(sessions, "operator1", AgentState.WRAPUP, wrapup_ends_at=ends)
    published(
        sessions,
        EventKind.WRAPUP,
        {"linkedid": "x", "ends_at": ends.isoformat()},
        user_id=operator1,
    )
    published(sessions, EventKind.OPERATOR, wrapup.to_json(), user_id=operator1)
    page.wait_for_selector('#live-state[data-state="wrapup"]')
    assert "Поствызывная обработка: осталось 1:5" in page.inner_text("#live-state")


def test_operators_now_follows_the_stream(
    new_page: Callable[[], Any], sessions: sessionmaker[Session]
) -> None:
    _floor(sessions, _operator(sessions, "operator2", AgentState.TALKING))
    page = new_page()
    sign_in(page, "supervisor")
    visit(page, "/reports/now")
    operator2 = user_id(sessions, "operator2")
    page.wait_for_selector(f'#operators-now tr[data-user-id="{operator2}"] [data-state="talking"]')
    paused = _operator(sessions, "operator1", AgentState.PAUSED, reason="lunch")
    published(sessions, EventKind.OPERATOR, paused.to_json(), user_id=paused.user_id)
    cell = page.wait_for_selector(
        f'#operators-now tr[data-user-id="{paused.user_id}"] [data-state="paused"]'
    )
    assert "На перерыве: Обед" in cell.inner_text()


def test_a_ringing_event_before_the_card_rings_still_pops_the_card(
    new_page: Callable[[], Any],
    sessions: sessionmaker[Session],
    make_call: Callable[..., int],
) -> None:
    """The stream can say the phone rings before the FastAGI server's writer has marked the
    card: the workspace asks again a few times instead of waiting for the next event."""
    _floor(sessions, _operator(sessions, "operator1", AgentState.READY))
    page = new_page()
    sign_in(page, "operator1")
    page.wait_for_selector('#live-state[data-state="ready"]')
    operator1 = user_id(sessions, "operator1")
    with page.expect_response(lambda answer: "/workspace/current" in answer.url) as first:
        published(
            sessions,
            EventKind.RINGING,
            {"linkedid": "late", "number": "+79161112233"},
            queue="reception",
            user_id=operator1,
        )
    assert first.value.json() == {"call_id": None}  # not marked ringing yet
    call_id = _ringing(make_call, src_number="+79161112233", queue="reception")
    page.wait_for_selector(f'#popped-card[data-call-id="{call_id}"]')
    assert "+79161112233" in page.inner_text("#popped-card")
