"""Pages speak to people: sentences, titles and names, plural forms, one date format."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.messages.pofile import read_po
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale, ngettext
from sqlalchemy.orm import Session, sessionmaker

from dialplan.demo import demo_document
from models import CallEvent
from models.session import transaction
from tests.web.conftest import login
from tests.web.test_event_labels import written_kinds
from webadmin.labels import AUDIT_ACTIONS, STRATEGIES
from webadmin.templating import MOMENT_STYLES
from webadmin.words import SENTENCES, event_sentence, ivr_words, read_flow_names

WEBADMIN = Path(__file__).resolve().parents[2] / "webadmin"
TEMPLATES = WEBADMIN / "templates"
CATALOGUE = WEBADMIN / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
DEMO = read_flow_names(demo_document(), {"101": "Ольга Операторова"})


def russian(app: Flask, work: Callable[[], str]) -> str:
    with app.test_request_context(), force_locale("ru"):
        return work()


def english(app: Flask, work: Callable[[], str]) -> str:
    with app.test_request_context(), force_locale("en"):
        return work()


def test_every_kind_of_timeline_entry_reads_as_a_sentence() -> None:
    assert sorted(written_kinds() - set(SENTENCES)) == []


def test_a_key_press_reads_with_what_the_option_means(app: Flask) -> None:
    data = {"menu": "main", "digits": "1", "action": "queue", "target": "appointments"}
    assert russian(app, lambda: event_sentence("ivr_key", data, DEMO)) == (
        "Нажал 1 — Запись на приём"
    )
    assert english(app, lambda: event_sentence("ivr_key", data, DEMO)) == (
        "Pressed 1 — Запись на приём"
    )


def test_moves_between_queues_read_with_the_queues_titles(app: Flask) -> None:
    overflow = {
        "from_queue": "appointments",
        "queue_status": "JOINEMPTY",
        "condition": "empty",
        "hop": "1",
        "action": "queue",
        "to_queue": "reception",
        "message": "",
        "reason": "overflow_empty",
    }
    assert russian(app, lambda: event_sentence("queue_overflow", overflow, DEMO)) == (
        "Очередь «Запись на приём» не ответила (не было свободных операторов): "
        "звонок направлен в «Регистратура»"
    )
    moved = {"from_queue": "appointments", "to_queue": "reception", "reason": "transfer"}
    assert russian(app, lambda: event_sentence("transferred", moved, DEMO)) == (
        "Переведён из «Запись на приём» в «Регистратура»"
    )
    rang = {"extension": "101", "channel": "PJSIP/101-00000001"}
    assert russian(app, lambda: event_sentence("operator_rang", rang, DEMO)) == (
        "Звонит телефон: Ольга Операторова"
    )


def test_no_sentence_shows_the_stored_codes(app: Flask) -> None:
    data = {
        "menu": "main",
        "digits": "2",
        "target": "reception",
        "queue": "reception",
        "from_queue": "appointments",
        "to_queue": "reception",
        "action": "queue",
        "condition": "timeout",
        "reason": "queue_timeout",
        "extension": "101",
        "operator": "Ольга Операторова",
        "seconds": "5",
        "attempts": "3",
        "attempt": "2",
        "did": "74951234567",
        "number": "79161234567",
        "open": "true",
    }
    for kind in SENTENCES:
        text = russian(app, lambda kind=kind: event_sentence(kind, data, DEMO))
        assert text[0].isupper(), (kind, text)
        for code in ("appointments", "reception", "from_queue", "queue_timeout", "main"):
            assert code not in text, (kind, text)


def test_plural_forms_follow_each_language(app: Flask) -> None:
    found = {
        count: russian(
            app, lambda count=count: ngettext("%(num)d call found", "%(num)d calls found", count)
        )
        for count in (1, 2, 5, 21)
    }
    assert found == {
        1: "найден 1 звонок",
        2: "найдено 2 звонка",
        5: "найдено 5 звонков",
        21: "найден 21 звонок",
    }
    assert english(app, lambda: ngettext("%(num)d call found", "%(num)d calls found", 1)) == (
        "1 call found"
    )
    left = {"seconds": "3"}
    assert russian(app, lambda: event_sentence("message_left", left, DEMO)) == (
        "Оставил сообщение на 3 секунды"
    )


def test_a_menu_path_reads_as_the_choices_made(app: Flask) -> None:
    assert russian(app, lambda: ivr_words("main > 2", DEMO)) == "2 — Результаты анализов"
    assert russian(app, lambda: ivr_words("main>default", DEMO)) == (
        "ничего не выбрал — по умолчанию"
    )


def test_strategies_have_names() -> None:
    from dialplan.settings import STRATEGIES as ASTERISK_STRATEGIES

    assert set(STRATEGIES) == set(ASTERISK_STRATEGIES)


def test_the_audit_log_s_actions_are_in_one_form_in_russian() -> None:
    with CATALOGUE.open("rb") as handle:
        catalogue = read_po(handle, locale="ru")
    words = [catalogue[str(label._args[0])].string for label in AUDIT_ACTIONS.values()]
    # Nouns ("прослушивание записи"), never a past tense ("прослушал(а)", "ушёл").
    past = re.compile(r"\w+(л|лся|ла|ёл)(\(а\))?$")
    assert not [word for word in words if past.match(word.split()[0])], words


def test_no_page_speaks_of_a_specification() -> None:
    assert "техническ" not in CATALOGUE.read_text(encoding="utf-8").lower()
    for template in TEMPLATES.rglob("*.html"):
        assert "specification" not in template.read_text(encoding="utf-8"), template


def test_every_page_writes_dates_one_way() -> None:
    styles = set()
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert "strftime" not in text, template
        styles |= set(re.findall(r'moment\("([^"]*)"\)', text))
    assert styles <= set(MOMENT_STYLES)
    assert all(
        pattern.startswith("dd.MM.yyyy")
        for style, pattern in MOMENT_STYLES.items()
        if "dd" in pattern
    )


def test_the_call_flow_overview_says_what_a_version_holds(client: FlaskClient) -> None:
    readme = (WEBADMIN.parent / "README.md").read_text(encoding="utf-8")
    assert "retention and operators are part of the version" in readme
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    page = client.get("/callflow/").text
    assert "A version holds the queues' ring strategy, wrap-up, retention and operators" in page
    assert "not part of a version" not in page


def test_every_page_has_the_favicon(client: FlaskClient) -> None:
    page = client.get("/login").text
    link = re.search(r'<link rel="icon" type="image/svg\+xml" href="([^"]+)"', page)
    assert link is not None
    icon = client.get(link.group(1))
    body, status, mimetype = icon.data, icon.status_code, icon.mimetype
    icon.close()  # a static file's answer holds the file open until closed
    assert status == 200 and mimetype == "image/svg+xml"
    assert b"<svg" in body


def timeline_of(
    sessions: sessionmaker[Session], call_id: int, events: list[tuple[str, dict[str, Any]]]
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=5)
    with transaction(sessions) as session:
        for second, (kind, data) in enumerate(events):
            session.add(
                CallEvent(
                    call_id=call_id, kind=kind, data=data, at=started + timedelta(seconds=second)
                )
            )


def test_a_card_page_tells_its_call_in_sentences_with_titles(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    call_id = make_call(queue="appointments", ivr_path="main > 1")
    timeline_of(
        sessions,
        call_id,
        [
            (
                "ivr_key",
                {"menu": "main", "digits": "1", "action": "queue", "target": "appointments"},
            ),
            ("route", {"action": "queue", "queue": "appointments", "reason": "ivr"}),
            (
                "transferred",
                {"from_queue": "appointments", "to_queue": "reception", "reason": "transfer"},
            ),
            ("hangup", {"status": "answered", "reason": "caller_hangup", "queue_status": ""}),
        ],
    )
    login(client, "admin")
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get(f"/calls/{call_id}").text))
    assert "Нажал 1 — Запись на приём" in page
    assert "Поставлен в очередь «Запись на приём»" in page
    assert "Переведён из «Запись на приём» в «Регистратура»" in page
    assert "Звонок завершён: звонящий положил трубку" in page
    for dump in ("digits:", "from_queue:", "queue_status:", "reason:", "appointments", "main >"):
        assert dump not in page, dump


def test_the_calls_list_names_queues_by_their_titles(
    client: FlaskClient, make_call: Callable[..., int]
) -> None:
    make_call(queue="appointments")
    login(client, "admin")
    page = client.get("/calls").text
    table = page[page.index("<tbody>") :]
    assert "Запись на приём" in table and ">appointments<" not in table
    options = re.findall(r'<option value="appointments"[^>]*>([^<]*)</option>', page)
    assert options == ["Запись на приём"]


@pytest.mark.parametrize("login_name", ["admin", "supervisor", "operator1"])
def test_dates_on_the_calls_list_read_day_month_year(
    client: FlaskClient, make_call: Callable[..., int], login_name: str
) -> None:
    make_call()
    login(client, login_name)
    page = client.get("/calls" if login_name != "operator1" else "/calls/mine").text
    assert re.search(r">\d\d\.\d\d\.\d{4} \d\d:\d\d<", page)
    assert not re.search(r">\d\d\.\d\d\.\d\d \d\d:\d\d<", page)


def test_a_version_s_changes_name_the_strategy(app: Flask) -> None:
    from webadmin.callflow.diff import Change

    with app.test_request_context(), force_locale("ru"):
        template = app.jinja_env.from_string(
            '{% from "callflow/_macros.html" import changes_table with context %}'
            '{{ changes_table(changes, "") }}'
        )
        # The call-flow blueprint's helpers, as its pages get them.
        helpers = app.blueprints["callflow"]
        context: dict[str, Any] = {}
        for processor in app.template_context_processors[helpers.name]:
            context.update(processor())
        html = template.render(
            changes=[Change("queues", "reception", "strategy", "rrmemory", "ringall")], **context
        )
    assert "по очереди, с того, кому звонили последним" in html
    assert "всем операторам сразу" in html and "ringall" not in html


def test_the_audit_log_s_details_are_in_words(
    client: FlaskClient, make_call: Callable[..., int], sessions: sessionmaker[Session]
) -> None:
    from models import AuditEntry
    from tests.web.conftest import user_id

    call_id = make_call()
    operator = user_id(sessions, "operator1")
    with transaction(sessions) as session:
        session.add_all(
            [
                AuditEntry(
                    user_id=operator,
                    action="recording.listen",
                    call_id=call_id,
                    detail={"range": "bytes=0-"},
                ),
                AuditEntry(
                    user_id=operator,
                    action="card.edit",
                    call_id=call_id,
                    detail={"changed": {"purpose_id": [1, 2], "notes": ["a", "b"]}},
                ),
                AuditEntry(user_id=None, action="auth.login_failed", detail={"login": "operatr1"}),
                AuditEntry(
                    user_id=operator,
                    action="operator.pause",
                    detail={
                        "extension": "101",
                        "reason": "lunch",
                        "queues": ["appointments", "reception"],
                    },
                ),
            ]
        )
    login(client, "admin")
    page = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/admin/audit").text))
    changed = re.search(r"Изменено: ([^#]+?) \d\d\.", page)
    assert changed and set(changed.group(1).split(", ")) == {"Цель обращения", "Суть обращения"}
    assert "Вводили логин: operatr1" in page
    assert "Обед · Запись на приём, Регистратура" in page
    for internal in ("range:", "bytes=0-", "changed:", "purpose_id", "reason:", "queues:"):
        assert internal not in page, internal
