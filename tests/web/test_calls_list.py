"""The calls list: every filter, bad values, sorting, pages, and each role's scope."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from callcards.config import DEFAULT_TIMEZONE
from models import CallCategory, CallPurpose, CallTag, call_tags, utcnow
from models.session import transaction
from tests.web.conftest import login, user_id
from tests.web.query_plans import add_history, plans_of_request
from webadmin.calls.queries import CallFilters, FilterError, display_timezone


def _ids(page: str) -> list[int]:
    """Card ids in the order the list shows them."""
    return [int(found) for found in re.findall(r'href="/calls/(\d+)"', page)]


def test_filters_parse_and_bad_values_are_named() -> None:
    filters = CallFilters.from_args(
        {
            "from": "2026-03-01",
            "to": "2026-03-01",
            "status": "missed",
            "q": "+7 (916) 12",
            "needs_callback": "1",
            "sort": "wait",
        }
    )
    # Outside a site, dates are read in the one default zone (Settings: Europe/Moscow).
    moscow = ZoneInfo(DEFAULT_TIMEZONE)
    assert filters.period_from == datetime(2026, 3, 1, tzinfo=moscow)
    assert filters.period_to == datetime(2026, 3, 2, tzinfo=moscow)  # a date: the whole day
    assert (filters.status, filters.q, filters.needs_callback) == ("missed", "791612", True)
    with pytest.raises(FilterError) as caught:
        CallFilters.from_args(
            {
                "from": "yesterday",
                "operator": "x",
                "status": "lost",
                "sort": "colour",
                "page": "0",
                "needs_callback": "maybe",
            }
        )
    assert set(caught.value.errors) == {
        "from",
        "operator",
        "status",
        "sort",
        "page",
        "needs_callback",
    }


def test_a_bad_filter_answers_400_with_the_message_not_a_crash(client: FlaskClient) -> None:
    login(client, "admin")
    response = client.get("/calls?status=lost&from=2026-13-40")
    assert response.status_code == 400
    assert response.text.count('class="field-error"') == 2


def test_each_filter_narrows_the_list(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        purpose = session.scalar(select(CallPurpose.id).order_by(CallPurpose.position))
        category = session.scalar(select(CallCategory).order_by(CallCategory.position))
        tag = session.scalar(select(CallTag.id).order_by(CallTag.position))
        assert category is not None
        subcategory = category.sub_categories[0].id
    old = make_call(started_at=utcnow() - timedelta(days=40), src_number="+74950000001")
    missed = make_call(
        operator=None,
        status="missed",
        answered_at=None,
        talk_sec=None,
        end_reason="queue_timeout",
        src_number="+79990001122",
    )
    outbound = make_call(direction="outbound", queue=None, dst_number="+79035554433")
    labelled = make_call(
        purpose_id=purpose,
        category_id=category.id,
        sub_category_id=subcategory,
        needs_callback=True,
        completed_at=utcnow(),
        queue="appointments",
    )
    other = make_call(operator="operator2")
    with transaction(sessions) as session:
        session.execute(call_tags.insert().values(call_id=labelled, tag_id=tag))
    login(client, "admin")
    # Dates in filters are the call centre's (Moscow's): after 21:00 UTC it is already tomorrow.
    with client.application.app_context():
        today = datetime.now(display_timezone()).date()

    def shown(query: str) -> set[int]:
        response = client.get(f"/calls?per_page=200&{query}")
        assert response.status_code == 200, query
        return set(_ids(response.text))

    everything = {old, missed, outbound, labelled, other}
    assert shown("") == everything
    assert shown(f"from={today - timedelta(days=1)}&to={today}") == everything - {old}
    assert shown(f"operator={user_id(sessions, 'operator2')}") == {other}
    assert shown("status=missed") == {missed}
    assert shown("direction=outbound") == {outbound}
    assert shown("queue=appointments") == {labelled}
    assert shown(f"purpose={purpose}") == {labelled}
    assert shown(f"category={category.id}") == {labelled}
    assert shown(f"subcategory={subcategory}") == {labelled}
    assert shown(f"tag={tag}") == {labelled}
    assert shown("q=999000") == {missed}
    assert shown("q=903555") == {outbound}  # the dialled number of an outbound call
    assert shown("needs_callback=1") == {labelled}
    assert shown("incomplete=1") == {old, outbound, other}


def test_sorting_and_pages(client: FlaskClient, make_call: Callable[..., int]) -> None:
    now = utcnow()
    made = [
        make_call(started_at=now - timedelta(minutes=minutes), wait_sec=minutes)
        for minutes in (30, 10, 20)
    ]
    login(client, "admin")
    assert _ids(client.get("/calls").text) == [made[1], made[2], made[0]]  # newest first
    assert _ids(client.get("/calls?sort=wait").text) == [made[1], made[2], made[0]]
    assert _ids(client.get("/calls?sort=-wait").text) == [made[0], made[2], made[1]]
    first = client.get("/calls?sort=started_at&per_page=2")
    assert _ids(first.text) == [made[0], made[2]]
    assert "page=2" in first.text
    assert _ids(client.get("/calls?sort=started_at&per_page=2&page=2").text) == [made[1]]
    assert _ids(client.get("/calls?per_page=2&page=9").text) == []


def test_a_long_list_says_more_than_and_still_offers_the_next_page(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CALLS_COUNT_CAP", 3)
    now = utcnow()
    made = [make_call(started_at=now - timedelta(minutes=minutes)) for minutes in range(6)]
    login(client, "admin")
    first = client.get("/calls?per_page=2").text
    assert "найдено больше 3" in first and "Страница 1 из 2 или больше" in first
    assert _ids(first) == made[:2] and "page=2" in first
    last = client.get("/calls?per_page=2&page=3").text
    assert "найдено 6 звонков" in last and "Страница 3 из 3" in last
    assert _ids(last) == made[4:] and "page=4" not in last


def test_each_role_sees_its_scope(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    mine = make_call(operator="operator1")
    theirs = make_call(operator="operator2")
    unknown_queue = make_call(operator=None, queue="elsewhere", status="missed")
    ringing_here = make_call(
        operator=None,
        status="ringing",
        answered_at=None,
        ended_at=None,
        ringing_extension="101",
        ringing_at=utcnow(),
    )
    login(client, "operator1")
    assert set(_ids(client.get("/calls").text)) == {mine, ringing_here}
    login(client, "supervisor")
    assert set(_ids(client.get("/calls").text)) == {mine, theirs, ringing_here}
    login(client, "admin")
    assert set(_ids(client.get("/calls").text)) == {mine, theirs, unknown_queue, ringing_here}


def test_my_calls_put_cards_to_complete_first_and_mark_them(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    now = utcnow()
    done_new = make_call(started_at=now - timedelta(minutes=5), completed_at=now)
    open_old = make_call(started_at=now - timedelta(days=2))
    open_new = make_call(started_at=now - timedelta(minutes=20))
    make_call(operator="operator2")
    login(client, "operator1")
    page = client.get("/calls/mine")
    assert _ids(page.text) == [open_new, open_old, done_new]
    assert page.text.count('class="incomplete') == 2


def test_my_calls_page_on_from_the_cards_to_complete_to_the_rest(
    app: Flask, client: FlaskClient, make_call: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(app.config, "CALLS_PER_PAGE", 2)
    now = utcnow()
    done = [
        make_call(started_at=now - timedelta(minutes=minutes), completed_at=now)
        for minutes in (1, 2)
    ]
    waiting = [make_call(started_at=now - timedelta(hours=hours)) for hours in (1, 2, 3)]
    login(client, "operator1")
    pages = [client.get(f"/calls/mine?page={number}").text for number in (1, 2, 3, 4)]
    assert [_ids(page) for page in pages] == [waiting[:2], [waiting[2], done[0]], [done[1]], []]
    assert "Страница 2 из 3" in pages[1]


def test_an_operators_list_reads_indexes_not_every_card(
    app: Flask,
    client: FlaskClient,
    make_call: Callable[..., int],
    sessions: sessionmaker[Session],
    web_engine: Engine,
) -> None:
    add_history(web_engine, user_id(sessions, "operator2"), 20_000)
    add_history(web_engine, user_id(sessions, "operator1"), 80)
    untaken = make_call(
        operator=None,
        status="missed",
        answered_at=None,
        needs_callback=True,
        queue="reception",
        started_at=utcnow(),
    )
    login(client, "operator1")
    response, plans = plans_of_request(app, client, "/calls")
    assert response.status_code == 200
    shown = [int(found) for found in re.findall(r'<a href="/calls/(\d+)"', response.text)]
    assert shown[0] == untaken and len(set(shown)) == 50
    # The page and its capped count (81 cards: more than a page): each branch of the
    # operator's scope through an index of its own, never a scan of every card.
    assert len(plans) == 2 and any("count(" in plan or "Aggregate" in plan for plan in plans)
    assert all("Seq Scan on calls" not in plan for plan in plans), plans
    assert all("ix_calls_callbacks_untaken" in plan for plan in plans), plans
