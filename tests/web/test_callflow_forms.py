"""The call-flow forms write the draft, and refuse what would break a call with a message."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import QueueMember, User
from models.flow import draft_document, latest_version
from models.routing import IvrMenu, Queue, Schedule
from tests.queue_forms import queue_form
from tests.web.conftest import login


@pytest.fixture
def admin(client: FlaskClient) -> FlaskClient:
    """A client signed in as the demo administrator, in English."""
    login(client, "admin")
    client.post("/locale", data={"locale": "en"})
    return client


def menu_form(
    name: str = "info",
    prompt: str = "hello",
    options: list[tuple[str, str]] = (),
    default: str = "queue:reception",
    **extra: Any,
) -> dict[str, Any]:
    """The menu form as a browser posts it: options are (key, action) pairs."""
    data: dict[str, Any] = {
        "name": name,
        "prompt": prompt,
        "timeout_sec": "5",
        "retries": "2",
        "timeout_prompt": "",
        "invalid_prompt": "",
        "default_action": default,
        "default_message": "",
    }
    for index, (digit, action) in enumerate(options):
        data[f"options-{index}-digit"] = digit
        data[f"options-{index}-action"] = action
        data[f"options-{index}-message"] = ""
        data[f"options-{index}-label"] = ""
    data.update(extra)
    return data


def schedule_form(name: str = "support", **extra: str) -> dict[str, str]:
    """The business-hours form with weekday hours 09-18."""
    data = {
        "name": name,
        "timezone": "Europe/Moscow",
        "holidays": "",
        "exceptions": "",
        "override_state": "",
        "override_until": "",
        "closed_action": "hangup",
        "closed_message": "vm-goodbye",
        **{day: "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": "",
        "sun": "",
    }
    data.update(extra)
    return data


def _menu_id(sessions: sessionmaker[Session], name: str) -> int:
    with sessions() as session:
        found = session.scalar(select(IvrMenu.id).where(IvrMenu.name == name))
        assert found is not None
        return found


# --- menus -------------------------------------------------------------------------------


def test_a_new_menu_is_saved_in_the_draft_not_published(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    response = admin.post(
        "/callflow/menus/new",
        data=menu_form(
            options=[("1", "queue:appointments"), ("9", "hangup"), ("*", "repeat")],
            **{"options-1-message": "vm-goodbye", "options-1-label": "Bye"},
        ),
    )
    assert response.status_code == 302
    with sessions() as session:
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == "info"))
        assert menu is not None
        assert menu.options == [
            {"digit": "1", "action": {"kind": "queue", "target": "appointments"}},
            {"digit": "9", "action": {"kind": "hangup", "message": "vm-goodbye", "label": "Bye"}},
            {"digit": "*", "action": {"kind": "repeat"}},
        ]
        version = latest_version(session)
        assert version is not None
        assert "info" not in [m["name"] for m in version.document["menus"]]


def test_a_key_used_twice_is_refused(admin: FlaskClient, sessions: sessionmaker[Session]) -> None:
    response = admin.post(
        "/callflow/menus/new",
        data=menu_form(options=[("1", "queue:appointments"), ("1", "queue:reception")]),
    )
    assert response.status_code == 400
    assert "Key 1 is used twice." in response.text
    with sessions() as session:
        assert session.scalar(select(IvrMenu).where(IvrMenu.name == "info")) is None


def test_an_option_pointing_nowhere_is_refused(admin: FlaskClient) -> None:
    response = admin.post(
        "/callflow/menus/new", data=menu_form(options=[("1", "queue:nowhere"), ("2", "menu:ghost")])
    )
    assert response.status_code == 400
    assert "Queue “nowhere” does not exist or is deactivated." in response.text
    assert "Menu “ghost” does not exist." in response.text


def test_a_missing_prompt_is_refused(admin: FlaskClient) -> None:
    response = admin.post(
        "/callflow/menus/new",
        data=menu_form(prompt="callcards/never-uploaded", invalid_prompt="no-such-stock-sound"),
    )
    assert response.status_code == 400
    assert "There is no sound “callcards/never-uploaded”" in response.text
    assert "There is no sound “no-such-stock-sound”" in response.text


def test_a_menu_loop_with_no_way_out_is_refused(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    assert (
        admin.post(
            "/callflow/menus/new", data=menu_form(name="a", default="queue:reception")
        ).status_code
        == 302
    )
    assert (
        admin.post(
            "/callflow/menus/new",
            data=menu_form(name="b", options=[("1", "menu:a")], default="menu:a"),
        ).status_code
        == 302
    )
    # a -> b and b -> a, nothing else: callers would go round for ever.
    response = admin.post(
        f"/callflow/menus/{_menu_id(sessions, 'a')}",
        data=menu_form(name="a", options=[("1", "menu:b"), ("0", "back")], default="menu:b"),
    )
    assert response.status_code == 400
    assert "Not saved: the flow would trap or break calls." in response.text
    assert "callers would go round menus a, b" in response.text
    with sessions() as session:
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == "a"))
        assert menu is not None and menu.default_action == {"kind": "queue", "target": "reception"}


def test_a_menu_keeps_its_name_and_bad_numbers_are_refused(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    main = _menu_id(sessions, "main")
    response = admin.post(
        f"/callflow/menus/{main}",
        data=menu_form(
            name="renamed", timeout_sec="0", retries="-1", options=[("1", "queue:reception")]
        ),
    )
    assert response.status_code == 400
    assert "Number must be between 1 and 60." in response.text
    response = admin.post(
        f"/callflow/menus/{main}",
        data=menu_form(name="renamed", options=[("1", "queue:reception")]),
    )
    assert response.status_code == 302
    with sessions() as session:
        names = set(session.scalars(select(IvrMenu.name)))
        assert names == {"main"}


def test_a_menu_in_use_is_not_removed(admin: FlaskClient, sessions: sessionmaker[Session]) -> None:
    response = admin.post(
        f"/callflow/menus/{_menu_id(sessions, 'main')}/delete", follow_redirects=True
    )
    assert "Menu main is in use (DID 74951234567, entry)" in response.text
    with sessions() as session:
        assert session.scalar(select(IvrMenu).where(IvrMenu.name == "main")) is not None


# --- business hours ----------------------------------------------------------------------


def test_business_hours_with_a_range_past_midnight_are_saved(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    response = admin.post(
        "/callflow/hours/new",
        data=schedule_form(
            fri="09:00-18:00, 22:00-06:00",
            holidays="2026-01-01 New year\n2026-01-07",
            exceptions="2026-12-31 09:00-15:00 Short day\n2026-05-04 closed",
            override_state="closed",
            override_until="2026-06-01T09:00",
            closed_action="queue:reception",
        ),
    )
    assert response.status_code == 302, response.text
    with sessions() as session:
        schedule = session.scalar(select(Schedule).where(Schedule.name == "support"))
        assert schedule is not None
        assert schedule.weekly["fri"] == ["09:00-18:00", "22:00-06:00"]
        assert schedule.weekly["sat"] == []
        assert schedule.holidays == [
            {"date": "2026-01-01", "name": "New year"},
            {"date": "2026-01-07", "name": None},
        ]
        assert schedule.exceptions == [
            {"date": "2026-12-31", "ranges": ["09:00-15:00"], "name": "Short day"},
            {"date": "2026-05-04", "ranges": [], "name": None},
        ]
        assert schedule.override == {"state": "closed", "until": "2026-06-01T09:00:00+03:00"}
        assert schedule.closed_action == {"kind": "queue", "target": "reception"}


def test_business_hours_can_take_a_voicemail_message_when_closed(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    form = admin.get("/callflow/hours/new").text
    assert '<option value="voicemail">greeting, then the caller leaves a message' in form
    response = admin.post(
        "/callflow/hours/new",
        data=schedule_form(
            closed_action="voicemail", closed_message="vm-intro", closed_max_message_sec="90"
        ),
    )
    assert response.status_code == 302, response.text
    with sessions() as session:
        schedule = session.scalar(select(Schedule).where(Schedule.name == "support"))
        assert schedule is not None
        assert schedule.closed_action == {
            "kind": "voicemail",
            "message": "vm-intro",
            "max_message_sec": 90,
        }
        schedule_id = schedule.id
    edit = admin.get(f"/callflow/hours/{schedule_id}").text
    assert '<option selected value="voicemail">' in edit
    assert 'name="closed_max_message_sec"' in edit and 'value="90"' in edit
    listed = admin.get("/callflow/hours").text
    assert "the caller leaves a message: <code>vm-intro</code>, up to 90 s, then hang up" in listed


def test_voicemail_without_a_greeting_or_length_saves_the_defaults_and_publishes(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    # Asterisk is not the point: the test site has no AMI set up (its pbx is None).
    with sessions() as session:
        clinic = session.scalar(select(Schedule.id).where(Schedule.name == "clinic"))
    response = admin.post(
        f"/callflow/hours/{clinic}",
        data=schedule_form(
            "clinic", closed_action="voicemail", closed_message="", closed_max_message_sec=""
        ),
    )
    assert response.status_code == 302, response.text
    with sessions() as session:
        schedule = session.get(Schedule, clinic)
        assert schedule is not None
        assert schedule.closed_action == {
            "kind": "voicemail",
            "message": "vm-intro",
            "max_message_sec": 120,
        }
    published = admin.post(
        "/callflow/publish", data={"comment": "messages at night"}, follow_redirects=True
    )
    assert "messages at night" in published.text
    with sessions() as session:
        version = latest_version(session)
        assert version is not None
        assert version.document["schedules"][0]["closed_action"]["kind"] == "voicemail"


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("closed_max_message_sec", "3", "Number must be between 5 and 600."),
        ("closed_max_message_sec", "3600", "Number must be between 5 and 600."),
        ("closed_message", "no-such-sound", "There is no sound “no-such-sound”"),
    ],
)
def test_bad_voicemail_settings_are_refused(
    admin: FlaskClient, sessions: sessionmaker[Session], field: str, text: str, message: str
) -> None:
    response = admin.post(
        "/callflow/hours/new",
        data=schedule_form(
            **{"closed_action": "voicemail", "closed_max_message_sec": "60", field: text}
        ),
    )
    assert response.status_code == 400
    assert message in response.text
    with sessions() as session:
        assert session.scalar(select(Schedule).where(Schedule.name == "support")) is None


@pytest.mark.parametrize(
    ("field", "text", "message"),
    [
        ("mon", "9-18", "“9-18” is not a time range"),
        ("tue", "25:00-26:00", "“25:00-26:00” is not a time range"),
        ("wed", "10:00-10:00", "“10:00-10:00” is not a time range"),
        ("exceptions", "2026-02-30 closed", "“2026-02-30” is not a date like 2026-01-01."),
        (
            "exceptions",
            "2026-03-01 closed\n2026-03-01 10:00-12:00",
            "2026-03-01 has two exceptions.",
        ),
        ("timezone", "Mars/Olympus", "Unknown time zone"),
        ("closed_action", "menu:ghost", "Menu “ghost” does not exist."),
        ("closed_message", "no-such-sound", "There is no sound “no-such-sound”"),
    ],
)
def test_bad_business_hours_are_refused(
    admin: FlaskClient, sessions: sessionmaker[Session], field: str, text: str, message: str
) -> None:
    response = admin.post("/callflow/hours/new", data=schedule_form(**{field: text}))
    assert response.status_code == 400
    assert message in response.text
    with sessions() as session:
        assert session.scalar(select(Schedule).where(Schedule.name == "support")) is None


def test_hours_a_did_uses_are_not_removed(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        clinic = session.scalar(select(Schedule.id).where(Schedule.name == "clinic"))
    response = admin.post(f"/callflow/hours/{clinic}/delete", follow_redirects=True)
    assert "clinic is used by DIDs 74951234567" in response.text


# --- DIDs --------------------------------------------------------------------------------


def test_a_did_is_added_with_its_campaign_and_hours(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    response = admin.post(
        "/callflow/dids/new",
        data={
            "number": "+7 (812) 555-01-02",
            "entry": "queue:appointments",
            "source": "Avito",
            "city": "Санкт-Петербург",
            "schedule": "clinic",
            "active": "y",
        },
    )
    assert response.status_code == 302
    with sessions() as session:
        did = next(d for d in draft_document(session)["dids"] if d["source"] == "Avito")
    assert did == {
        "number": "+7 (812) 555-01-02",
        "entry": {"kind": "queue", "target": "appointments"},
        "source": "Avito",
        "city": "Санкт-Петербург",
        "schedule": "clinic",
        "active": True,
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"number": "8 495 123-45-67"}, "DID 74951234567 is the same number"),
        ({"number": "no digits"}, "A number needs digits."),
        ({"entry": "menu:ghost"}, "“ghost” does not exist."),
        ({"entry": "hangup"}, "Calls enter a menu or a queue."),
        ({"schedule": "nope"}, "These business hours do not exist."),
    ],
)
def test_bad_dids_are_refused(admin: FlaskClient, data: dict[str, str], message: str) -> None:
    form = {
        "number": "74959990000",
        "entry": "menu:main",
        "source": "",
        "city": "",
        "schedule": "",
        "active": "y",
        **data,
    }
    response = admin.post("/callflow/dids/new", data=form)
    assert response.status_code == 400
    assert message in response.text


# --- queues ------------------------------------------------------------------------------


def test_a_queue_is_created_with_members_and_penalties(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        phones = list(
            session.scalars(
                select(User).where(User.extension.is_not(None)).order_by(User.extension)
            )
        )
    data = {
        "name": "billing",
        "title": "Оплата",
        "strategy": "leastrecent",
        "ring_timeout_sec": "20",
        "max_wait_sec": "300",
        "wrapup_sec": "10",
        "service_level_sec": "30",
        "retention_days": "90",
        "active": "y",
    }
    for index, user in enumerate(phones):
        data[f"members-{index}-user_id"] = str(user.id)
        data[f"members-{index}-penalty"] = str(index)
        if index == 1:
            data[f"members-{index}-member"] = "y"
    assert admin.post("/callflow/queues/new", data=data).status_code == 302
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == "billing"))
        assert queue is not None
        assert (
            queue.strategy,
            queue.ring_timeout_sec,
            queue.max_wait_sec,
            queue.wrapup_sec,
            queue.service_level_sec,
            queue.retention_days,
        ) == ("leastrecent", 20, 300, 10, 30, 90)
        members = list(session.scalars(select(QueueMember).where(QueueMember.queue_id == queue.id)))
        assert [(m.user_id, m.penalty) for m in members] == [(phones[1].id, 1)]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("general", "“general” is reserved in Asterisk&#39;s queues.conf"),
        ("reception", "A queue of this name exists already."),
        ("очередь", "Latin letters, digits, dot, dash, underscore."),
    ],
)
def test_bad_queue_names_are_refused(admin: FlaskClient, name: str, message: str) -> None:
    response = admin.post(
        "/callflow/queues/new",
        data={
            "name": name,
            "title": "X",
            "strategy": "rrmemory",
            "ring_timeout_sec": "15",
            "max_wait_sec": "120",
            "wrapup_sec": "0",
            "service_level_sec": "20",
            "active": "y",
        },
    )
    assert response.status_code == 400
    assert message in response.text


def test_a_queue_calls_are_sent_to_is_not_deactivated(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == "appointments"))
        assert queue is not None
        queue_id, title = queue.id, queue.title
    response = admin.post(
        f"/callflow/queues/{queue_id}",
        data={
            "name": "appointments",
            "title": title,
            "strategy": "rrmemory",
            "ring_timeout_sec": "15",
            "max_wait_sec": "120",
            "wrapup_sec": "0",
            "service_level_sec": "20",
        },
    )
    assert response.status_code == 400
    assert "Calls are sent to this queue (menu main, key 1)" in response.text


def _queue(sessions: sessionmaker[Session], name: str) -> Queue:
    with sessions() as session:
        queue = session.scalar(select(Queue).where(Queue.name == name))
        assert queue is not None
        return queue


def test_a_queue_overflow_is_edited_published_and_shown_in_the_diff(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    reception = _queue(sessions, "reception")
    page = admin.get(f"/callflow/queues/{reception.id}").text
    assert "When no operator can take the call" in page
    assert 'value="queue:appointments"' in page and 'value="queue:reception"' not in page
    response = admin.post(
        f"/callflow/queues/{reception.id}",
        data=queue_form(
            reception,
            when_empty="queue:appointments",
            when_timeout="hangup",
            when_timeout_message="vm-goodbye",
        ),
    )
    assert response.status_code == 302, response.text
    with sessions() as session:
        queue = next(q for q in draft_document(session)["queues"] if q["name"] == "reception")
    assert queue["when_empty"] == {"kind": "queue", "target": "appointments"}
    assert queue["when_timeout"] == {"kind": "hangup", "message": "vm-goodbye"}
    overview = admin.get("/callflow/").text
    # appointments already overflows to reception: now the two would go round.
    assert (
        "when they cannot answer, these queues send callers round in a circle: "
        "appointments &gt; reception &gt; appointments"
    ) in overview
    refused = admin.post("/callflow/publish", data={"comment": "loop"})
    assert refused.status_code == 400
    appointments = _queue(sessions, "appointments")
    admin.post(f"/callflow/queues/{appointments.id}", data=queue_form(appointments))
    published = admin.post(
        "/callflow/publish", data={"comment": "reception overflow"}, follow_redirects=True
    )
    assert published.status_code == 200
    assert "when no operator can answer" in published.text
    assert "when the wait runs out" in published.text
    assert "vm-goodbye" in published.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when_empty": "queue:reception"}, "A queue cannot overflow to itself"),
        ({"when_timeout": "queue:nowhere"}, "Queue “nowhere” does not exist or is deactivated."),
        ({"when_empty": "menu:main"}, "Choose another queue, or a message then hang up."),
        ({"when_timeout_message": "callcards/nope"}, "There is no sound “callcards/nope”"),
    ],
)
def test_a_bad_overflow_is_refused(
    admin: FlaskClient, sessions: sessionmaker[Session], data: dict[str, str], message: str
) -> None:
    reception = _queue(sessions, "reception")
    response = admin.post(f"/callflow/queues/{reception.id}", data=queue_form(reception, **data))
    assert response.status_code == 400
    assert message in response.text


def test_a_form_without_the_overflow_fields_leaves_the_overflow_as_it_is(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    appointments = _queue(sessions, "appointments")
    data = queue_form(appointments, service_level_sec="25")
    for key in ("when_empty", "when_empty_message", "when_timeout", "when_timeout_message"):
        del data[key]
    assert admin.post(f"/callflow/queues/{appointments.id}", data=data).status_code == 302
    with sessions() as session:
        queue = next(q for q in draft_document(session)["queues"] if q["name"] == "appointments")
    assert queue["service_level_sec"] == 25
    assert queue["when_empty"] == queue["when_timeout"] == {"kind": "queue", "target": "reception"}


def test_a_queue_other_queues_overflow_to_is_not_deactivated(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    reception = _queue(sessions, "reception")
    data = queue_form(reception)
    del data["active"]
    response = admin.post(f"/callflow/queues/{reception.id}", data=data)
    assert response.status_code == 400
    assert "queue appointments, when no operator can answer" in response.text


# --- recording ---------------------------------------------------------------------------


def test_the_recording_announcement_is_set_and_published(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    refused = admin.post(
        "/callflow/queues/recording", data={"announcement": "callcards/nope"}, follow_redirects=True
    )
    assert "There is no sound “callcards/nope”" in refused.text
    admin.post("/callflow/queues/recording", data={"announcement": "vm-goodbye"})
    with sessions() as session:
        assert draft_document(session)["recording_announcement"] == "vm-goodbye"
    overview = admin.get("/callflow/").text
    assert "recording announcement" in overview and "vm-goodbye" in overview
    admin.post("/callflow/publish", data={"comment": "announce"})
    simulated = admin.get(
        "/callflow/simulator",
        query_string={
            "did": "74951234567",
            "day": "2026-03-02",
            "at": "10:00",
            "timezone": "Europe/Moscow",
            "keys": "1",
            "flow": "published",
        },
    ).text
    assert simulated.index("play vm-goodbye") < simulated.index("menu main, try 1")
    admin.post("/callflow/queues/recording", data={"announcement": ""})
    with sessions() as session:
        assert "recording_announcement" not in draft_document(session)


def test_a_queue_callback_settings_are_edited_published_and_shown_in_the_diff(
    admin: FlaskClient, sessions: sessionmaker[Session]
) -> None:
    reception = _queue(sessions, "reception")
    page = admin.get(f"/callflow/queues/{reception.id}").text
    assert "+15m, +2h, next working day" in page
    fields = {
        "callback_retries": "+10m, next working day",
        "callback_max_attempts": "2",
        "callback_short_abandon_sec": "8",
        "callback_mode": "auto",
        "callback_caller_id": "74950001122",
    }
    refused = admin.post(
        f"/callflow/queues/{reception.id}",
        data=queue_form(reception, **{**fields, "callback_retries": "soon"}),
    )
    assert refused.status_code == 400 and "retry step" in refused.text
    saved = admin.post(f"/callflow/queues/{reception.id}", data=queue_form(reception, **fields))
    assert saved.status_code == 302, saved.text
    with sessions() as session:
        queue = next(q for q in draft_document(session)["queues"] if q["name"] == "reception")
    assert queue["callbacks"] == {
        "retry_schedule": ["+10m", "next working day"],
        "max_attempts": 2,
        "short_abandon_sec": 8,
        "mode": "auto",
        "schedule": None,
        "caller_id": "74950001122",
    }
    published = admin.post(
        "/callflow/publish", data={"comment": "callbacks"}, follow_redirects=True
    )
    assert published.status_code == 200
    assert "callbacks: retries" in published.text and "+10m, next working day" in published.text
