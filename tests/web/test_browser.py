"""The site in Debian's Chromium: a card pops up and is saved, a recording plays and seeks.

Needs `apt-get install -y chromium` (Playwright's own browser download is not used).
Screenshots of the main pages go to artifacts/screenshots/ (and docs/screenshots/ with
CALLCARDS_UPDATE_SCREENSHOTS=1).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import (
    AuditEntry,
    Call,
    CallCategory,
    CallEvent,
    CallPurpose,
    CallSubCategory,
    CallTag,
    utcnow,
)
from models.session import transaction
from tests.web.conftest import console_errors, screenshot, sign_in, user_id, visit, write_tone

pytestmark = [pytest.mark.browser]


def _history(make_call: Callable[..., int], sessions: sessionmaker[Session]) -> None:
    """A few days of calls, so the pages show what they look like in use."""
    with sessions() as session:
        purposes = list(session.scalars(select(CallPurpose.id).order_by(CallPurpose.position)))
        categories = list(session.scalars(select(CallCategory).order_by(CallCategory.position)))
        subs = {category.id: category.sub_categories[0].id for category in categories}
    now = utcnow()
    samples = [
        ("+79161112233", "operator1", "answered", 0, "Записали на приём к терапевту на пятницу"),
        ("+79035554433", "operator2", "answered", 2, "Интересовалась стоимостью УЗИ"),
        ("+74957778899", None, "abandoned", None, None),
        ("+79261234567", "operator1", "answered", None, None),
        ("+79857654321", "operator2", "answered", 3, "Перенос визита на вторник"),
        ("+79169998877", None, "missed", None, None),
        ("+79161112233", "operator1", "answered", 1, "Готовы ли анализы — да, отправили на почту"),
    ]
    for index, (number, operator, status, purpose, notes) in enumerate(samples):
        category = categories[index % len(categories)]
        labelled = purpose is not None
        make_call(
            operator=operator,
            src_number=number,
            status=status,
            started_at=now - timedelta(hours=5 * index + 1),
            answered_at=None if operator is None else now - timedelta(hours=5 * index + 1),
            talk_sec=None if operator is None else 60 + 37 * index,
            end_reason=None
            if operator
            else ("caller_hangup_queue" if status == "abandoned" else "queue_timeout"),
            purpose_id=purposes[purpose] if labelled else None,
            category_id=category.id if labelled else None,
            sub_category_id=subs[category.id] if labelled else None,
            notes=notes,
            completed_at=now - timedelta(hours=5 * index) if labelled else None,
            needs_callback=index == 4,
            queue="appointments" if index % 2 else "reception",
        )


def test_operator_sees_the_ringing_card_pop_up_and_saves_it(
    new_page: Callable[[], object], make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    _history(make_call, sessions)
    page = new_page()
    sign_in(page, "operator1")
    page.wait_for_selector("#idle")  # type: ignore[attr-defined]
    call_id = make_call(
        operator=None,
        status="ringing",
        answered_at=None,
        ended_at=None,
        talk_sec=None,
        duration_sec=None,
        src_number="+79161112233",
        did_source="Яндекс Директ",
        did_city="Москва",
        ivr_path="main > 1",
        queue="appointments",
        started_at=utcnow(),
        ringing_extension="101",
        ringing_at=utcnow(),
    )
    # The promise: the card is on screen within 2 seconds, without a reload.
    page.wait_for_selector(
        f'#popped-card[data-call-id="{call_id}"]',  # type: ignore[attr-defined]
        timeout=2000,
    )
    assert "Яндекс Директ" in page.inner_text("#popped-card")  # type: ignore[attr-defined]
    assert "Записали на приём" in page.inner_text("#popped-card")  # type: ignore[attr-defined]
    page.select_option("#purpose", index=1)  # type: ignore[attr-defined]
    page.select_option("#category", index=2)  # type: ignore[attr-defined]
    category_id = page.eval_on_selector("#category", "el => el.value")  # type: ignore[attr-defined]
    offered = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "#subcategory option:not([hidden])", "els => els.map(e => e.dataset.category || '')"
    )
    assert set(offered) == {"", category_id}  # the list follows the category
    first_offered = page.eval_on_selector(  # type: ignore[attr-defined]
        "#subcategory option[data-category]:not([hidden])", "el => el.value"
    )
    page.select_option("#subcategory", value=first_offered)  # type: ignore[attr-defined]
    page.fill("#notes", "Записали на приём к терапевту")  # type: ignore[attr-defined]
    page.check("#resolved_first_call")  # type: ignore[attr-defined]
    page.check("#tags-0")  # type: ignore[attr-defined]
    screenshot(page, "workspace-popped-card")
    page.click("#card-form button.primary")  # type: ignore[attr-defined]
    page.wait_for_selector(".flash-success")  # type: ignore[attr-defined]
    with sessions() as session:
        call = session.get(Call, call_id)
        assert call is not None and call.completed_at is not None
        assert call.completed_by_id == user_id(sessions, "operator1")
        assert call.notes == "Записали на приём к терапевту"
        assert call.sub_category_id is not None and call.resolved_first_call
        assert [tag.name for tag in call.tags] == [
            session.scalar(select(CallTag.name).order_by(CallTag.position))
        ]
    visit(page, "/calls/mine")
    assert page.inner_text("h1") == "Мои звонки"  # type: ignore[attr-defined]
    # The operator's own calls are on the list, and only those.
    links = page.eval_on_selector_all(  # type: ignore[attr-defined]
        "main a", "links => links.map(link => new URL(link.href).pathname)"
    )
    with sessions() as session:
        mine = session.scalars(
            select(Call.id).where(Call.operator_id == user_id(sessions, "operator1"))
        )
        assert sorted(links) == sorted(f"/calls/{card_id}" for card_id in mine)
    screenshot(page, "my-calls")


def _recorded_call(
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    recordings_dir: Path,
    operator: str = "operator1",
) -> int:
    name = f"2026/03/02/browser-{operator}.wav"
    write_tone(recordings_dir / name, seconds=6.0)
    call_id = make_call(
        operator=operator, recording_path=name, notes="Жалоба на ожидание", ivr_path="main > 2"
    )
    with transaction(sessions) as session:
        call = session.get(Call, call_id)
        assert call is not None
        start = call.started_at
        session.add_all(
            [
                CallEvent(call_id=call_id, at=start, kind="ivr_entered", data={"menu": "main"}),
                CallEvent(
                    call_id=call_id,
                    at=start + timedelta(seconds=6),
                    kind="ivr_key",
                    data={"menu": "main", "digits": "2", "action": "queue", "target": "reception"},
                ),
                CallEvent(
                    call_id=call_id,
                    at=start + timedelta(seconds=7),
                    kind="queue_joined",
                    data={"queue": "reception"},
                ),
                CallEvent(
                    call_id=call_id,
                    at=start + timedelta(seconds=15),
                    kind="answered",
                    data={
                        "interface": "PJSIP/101",
                        "extension": "101",
                        "operator": "Ольга Операторова",
                    },
                ),
                CallEvent(
                    call_id=call_id,
                    at=start + timedelta(seconds=135),
                    kind="hangup",
                    data={"status": "answered", "reason": "caller_hangup"},
                ),
            ]
        )
    return call_id


def test_supervisor_plays_seeks_and_downloads_a_recording(
    new_page: Callable[[], object],
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    recordings_dir: Path,
) -> None:
    _history(make_call, sessions)
    call_id = _recorded_call(make_call, sessions, recordings_dir)
    page = new_page()
    sign_in(page, "supervisor")
    visit(page, "/calls")
    assert page.inner_text("h1").startswith("Звонки")  # type: ignore[attr-defined]
    assert "+79857654321" in page.inner_text("main")  # type: ignore[attr-defined]
    screenshot(page, "calls-list")
    visit(page, f"/calls/{call_id}")
    assert "Жалоба на ожидание" in page.inner_text("main")  # type: ignore[attr-defined]
    page.click("h1")  # type: ignore[attr-defined]  # a user gesture, so play() is allowed
    playing = page.evaluate("""() => new Promise((resolve, reject) => {
        const player = document.getElementById('player');
        player.addEventListener('playing', () => resolve(true), {once: true});
        player.addEventListener('error', () => reject(new Error('media error')), {once: true});
        player.play().catch(reject);
    })""")  # type: ignore[attr-defined]
    assert playing is True
    seeked = page.evaluate("""() => new Promise((resolve) => {
        const player = document.getElementById('player');
        player.addEventListener('seeked', () => resolve(player.currentTime), {once: true});
        player.currentTime = 4.5;
    })""")  # type: ignore[attr-defined]
    assert 4.4 <= seeked <= 6.0  # a server without Range support would snap back to 0
    page.evaluate("document.getElementById('player').pause()")  # type: ignore[attr-defined]
    screenshot(page, "card-page")
    with page.expect_download() as caught:  # type: ignore[attr-defined]
        page.click("#download")  # type: ignore[attr-defined]
    download = caught.value
    assert download.suggested_filename.endswith(".wav")
    assert Path(download.path()).stat().st_size > 44
    with sessions() as session:
        actions = set(
            session.scalars(select(AuditEntry.action).where(AuditEntry.call_id == call_id))
        )
    assert {"recording.listen", "recording.download"} <= actions


def test_an_operator_listens_but_cannot_download(
    new_page: Callable[[], object],
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    recordings_dir: Path,
) -> None:
    call_id = _recorded_call(make_call, sessions, recordings_dir)
    page = new_page()
    sign_in(page, "operator1")
    visit(page, f"/calls/{call_id}")
    assert page.query_selector("#player") is not None  # type: ignore[attr-defined]
    assert page.query_selector("#download") is None  # type: ignore[attr-defined]
    response = page.request.get(f"/calls/{call_id}/recording?download=true")  # type: ignore[attr-defined]
    assert response.status == 403


def test_admin_pages_look_right(
    new_page: Callable[[], object], make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    _history(make_call, sessions)
    listened = _recorded_call(make_call, sessions, Path(tempfile.mkdtemp()))
    with transaction(sessions) as session:
        session.add_all(
            [
                AuditEntry(
                    user_id=user_id(sessions, "supervisor"),
                    action="recording.listen",
                    call_id=listened,
                    remote_addr="10.0.0.21",
                    detail={},
                ),
                AuditEntry(
                    user_id=user_id(sessions, "supervisor"),
                    action="recording.download",
                    call_id=listened,
                    remote_addr="10.0.0.21",
                    detail={},
                ),
                AuditEntry(
                    user_id=user_id(sessions, "operator1"),
                    action="card.complete",
                    call_id=listened,
                    remote_addr="10.0.0.31",
                    detail={},
                ),
                AuditEntry(
                    user_id=None,
                    action="auth.login_failed",
                    remote_addr="10.0.0.99",
                    detail={"login": "operator7"},
                ),
            ]
        )
    page: Any = new_page()
    errors = console_errors(page)
    sign_in(page, "admin")
    visit(page, "/admin/dictionaries/subcategories")
    assert page.inner_text("h1") == "Справочники"
    with sessions() as session:
        sub_names = set(session.scalars(select(CallSubCategory.name)))
    shown = page.eval_on_selector_all(
        "table.dictionary input[name=name]", "inputs => inputs.map(input => input.value)"
    )
    assert set(shown) == sub_names and len(shown) == len(sub_names)
    screenshot(page, "admin-dictionaries")
    visit(page, "/admin/users")
    assert page.inner_text("h1") == "Пользователи"
    assert {"operator1", "operator2", "supervisor"} <= set(page.inner_text("main").split())
    screenshot(page, "admin-users")
    page.click("#new-user")
    page.wait_for_url(lambda url: url.endswith("/admin/users/new"))
    assert page.inner_text("h1") == "Новый пользователь"
    page.fill("#login", "operator3")
    with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
        page.click("form button.primary")  # name and password missing
    assert posted.value.status == 400  # the form again, with what to fix, never a 500
    errors.remove("400 POST /admin/users/new")
    page.wait_for_selector(".field-error")
    assert page.input_value("#login") == "operator3"
    screenshot(page, "admin-user-form")
    visit(page, "/admin/audit")
    assert page.inner_text("h1") == "Журнал аудита"
    for action in ("recording-listen", "recording-download", "card-complete", "auth-login_failed"):
        assert page.query_selector(f"tr.action-{action}") is not None, action
    assert "10.0.0.99" in page.inner_text("tr.action-auth-login_failed")
    assert f"#{listened}" in page.inner_text("tr.action-recording-download")
    screenshot(page, "admin-audit")
    assert errors == []


def test_sign_in_page(new_page: Callable[[], object]) -> None:
    page: Any = new_page()
    errors = console_errors(page)
    response = visit(page, "/login")
    assert response.status == 200
    assert page.title().startswith("Войти")
    assert page.inner_text("h1") == "Войти"
    assert page.is_visible("#login") and page.is_visible("#password")
    assert page.inner_text("button.primary") == "Войти"
    screenshot(page, "sign-in")
    # A wrong password gets the form again with a message, not an error page.
    page.fill("#login", "operator1")
    page.fill("#password", "not-the-password")
    with page.expect_response(lambda answer: answer.request.method == "POST") as posted:
        page.click("button.primary")
    assert posted.value.status < 500
    errors.remove(f"{posted.value.status} POST /login")
    page.wait_for_selector("p.error[role=alert]")
    assert page.inner_text("h1") == "Войти"
    # The right one signs in: a page of the site, not the sign-in form again.
    sign_in(page, "operator1")
    assert page.get_attribute("span.who", "title") == "operator1"
    assert page.query_selector("#login") is None
    assert errors == []
