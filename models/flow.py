"""The call flow as one document: built from the draft tables, written back, published.

The document has the one shape `dialplan.document.FlowDocument` (what
`dialplan.settings.FlowSettings.from_document` reads); models/ imports only that pure module
of dialplan/, so this module only moves plain data between tables and JSON.
Each queue carries its Asterisk setup (strategy, ring timeout, wrap-up, recording retention,
members by login with penalties), so a version's diff shows it and a rollback restores it
(the site then sends it to Asterisk again through `pbx.apply_queues`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from dialplan.document import (
    FLOOR_FIELDS,
    ActionDoc,
    CallbackOfferDoc,
    ExceptionDoc,
    FlowDocument,
    HolidayDoc,
    OptionDoc,
    OverrideDoc,
    QueueCallbacksDoc,
    QueueDoc,
    QueueSetupDoc,
)
from models.routing import Did, FlowSetting, FlowVersion, IvrMenu, Queue, Schedule
from models.users import QueueMember, User

DEFAULT_QUEUE_KEY = "default_queue"
ANNOUNCEMENT_KEY = "recording_announcement"
#: A queue's overflow when none is set: hang up, as Queue() returning always did.
HANG_UP: ActionDoc = {"kind": "hangup", "message": None}


def _action(stored: Mapping[str, Any] | None, default: ActionDoc | None = None) -> ActionDoc:
    """An action as a table keeps it (JSON in the flow document's shape)."""
    return cast(ActionDoc, dict(stored or default or {}))


def draft_document(session: Session) -> FlowDocument:
    """The call flow as the admin has edited it so far (not yet what calls follow)."""
    default = session.get(FlowSetting, DEFAULT_QUEUE_KEY)
    announcement = session.get(FlowSetting, ANNOUNCEMENT_KEY)
    document: FlowDocument = {
        "default_queue": default.value if default else "reception",
        "queues": [
            _queue(session, queue)
            for queue in session.scalars(
                select(Queue).where(Queue.active.is_(True)).order_by(Queue.name)
            )
        ],
        "menus": [
            {
                "name": menu.name,
                "prompt": menu.prompt,
                "options": cast(list[OptionDoc], list(menu.options or [])),
                "timeout_sec": menu.timeout_sec,
                "retries": menu.retries,
                "timeout_prompt": menu.timeout_prompt,
                "invalid_prompt": menu.invalid_prompt,
                "default": _action(menu.default_action),
            }
            for menu in session.scalars(select(IvrMenu).order_by(IvrMenu.name))
        ],
        "schedules": [
            {
                "name": schedule.name,
                "timezone": schedule.timezone,
                "weekly": dict(schedule.weekly or {}),
                "holidays": cast(list[HolidayDoc], list(schedule.holidays or [])),
                "exceptions": cast(list[ExceptionDoc], list(schedule.exceptions or [])),
                "override": cast(OverrideDoc | None, schedule.override),
                "closed_action": _action(schedule.closed_action),
            }
            for schedule in session.scalars(select(Schedule).order_by(Schedule.name))
        ],
        "dids": [
            {
                "number": did.number,
                "entry": _action(did.entry),
                "source": did.source,
                "city": did.city,
                "schedule": did.schedule.name if did.schedule else None,
                "active": did.active,
            }
            for did in session.scalars(select(Did).order_by(Did.number))
        ],
    }
    if announcement and announcement.value:
        # Only when set, so documents from before the announcement existed read the same.
        document["recording_announcement"] = announcement.value
    return document


def _queue(session: Session, queue: Queue) -> QueueDoc:
    """A queue as the document keeps it."""
    doc: QueueDoc = {
        "name": queue.name,
        "title": queue.title,
        "max_wait_sec": queue.max_wait_sec,
        "service_level_sec": queue.service_level_sec,
        "when_empty": _action(queue.when_empty, HANG_UP),
        "when_timeout": _action(queue.when_timeout, HANG_UP),
        "setup": _setup(session, queue),
    }
    if queue.callbacks:  # only when set, so earlier versions read the same
        doc["callbacks"] = cast(QueueCallbacksDoc, dict(queue.callbacks))
    if queue.callback_offer:  # only when set, so documents from before it read the same
        doc["callback_offer"] = cast(CallbackOfferDoc, dict(queue.callback_offer))
    return doc


def _setup(session: Session, queue: Queue) -> QueueSetupDoc:
    """How Asterisk rings the queue's operators, as the version keeps it (members by login)."""
    members = session.execute(
        select(User.login, QueueMember.penalty)
        .join(QueueMember.user)
        .where(QueueMember.queue_id == queue.id)
        .order_by(User.login)
    )
    return {
        "strategy": queue.strategy,
        "ring_timeout_sec": queue.ring_timeout_sec,
        "wrapup_sec": queue.wrapup_sec,
        "retention_days": queue.retention_days,
        "members": [{"login": login, "penalty": penalty} for login, penalty in members],
        "wrapup_hold_sec": queue.wrapup_hold_sec,
        "missed_rings_pause": queue.missed_rings_pause,
        "max_wait_alert_sec": queue.max_wait_alert_sec,
        "service_level_target_pct": queue.service_level_target_pct,
    }


def _store_setup(session: Session, queue: Queue, setup: QueueSetupDoc) -> list[tuple[str, str]]:
    """Put a version's setup back on the queue; (queue, login) of operators no longer on staff."""
    queue.strategy = setup.get("strategy") or "rrmemory"
    queue.ring_timeout_sec = setup.get("ring_timeout_sec", 15)
    queue.wrapup_sec = setup.get("wrapup_sec", 0)
    queue.retention_days = setup.get("retention_days")
    # Versions from before the live floor's fields put back their defaults.
    for name, (default, _low, _high) in FLOOR_FIELDS.items():
        setattr(queue, name, setup.get(name, default))
    session.flush()
    wanted = {item["login"]: item.get("penalty", 0) for item in setup.get("members", [])}
    users = {
        user.login: user for user in session.scalars(select(User).where(User.login.in_(wanted)))
    }
    current = {
        member.user_id: member
        for member in session.scalars(select(QueueMember).where(QueueMember.queue_id == queue.id))
    }
    keep = {users[login].id: penalty for login, penalty in wanted.items() if login in users}
    for user_id, member in current.items():
        if user_id not in keep:
            session.delete(member)
    for user_id, penalty in keep.items():
        if user_id in current:
            current[user_id].penalty = penalty
        else:
            session.add(QueueMember(user_id=user_id, queue_id=queue.id, penalty=penalty))
    return [(queue.name, login) for login in wanted if login not in users]


def store_document(session: Session, document: FlowDocument) -> list[tuple[str, str]]:
    """Make the draft tables say what the document says (by name; queues are kept, not deleted).

    A queue's "setup" (strategy, timeouts, retention, members) is stored only when the
    document has one (versions from before it was versioned leave them as they are).
    Returns (queue, login) of the members it could not restore (no longer on the staff).
    """
    notes: list[tuple[str, str]] = []
    _upsert_default_queue(session, document.get("default_queue", "reception"))
    _upsert(session, ANNOUNCEMENT_KEY, document.get("recording_announcement"))
    for queue_doc in document.get("queues", []):
        name = queue_doc["name"]
        queue = session.scalar(select(Queue).where(Queue.name == name))
        if queue is None:
            queue = Queue(name=name, title=queue_doc.get("title") or name)
            session.add(queue)
        queue.title = queue_doc.get("title") or name
        queue.max_wait_sec = queue_doc.get("max_wait_sec", 120)
        queue.service_level_sec = queue_doc.get("service_level_sec", 20)
        queue.when_empty = _json(queue_doc.get("when_empty"))
        queue.when_timeout = _json(queue_doc.get("when_timeout"))
        queue.callback_offer = _json(queue_doc.get("callback_offer"))
        queue.active = True
        queue.callbacks = _json(queue_doc.get("callbacks"))
        setup = queue_doc.get("setup")
        if setup is not None:
            notes += _store_setup(session, queue, setup)
    schedules: dict[str, Schedule] = {}
    for schedule_doc in document.get("schedules", []):
        schedule = session.scalar(select(Schedule).where(Schedule.name == schedule_doc["name"]))
        if schedule is None:
            schedule = Schedule(name=schedule_doc["name"])
            session.add(schedule)
        schedule.timezone = schedule_doc["timezone"]
        schedule.weekly = dict(schedule_doc.get("weekly", {}))
        schedule.holidays = [dict(day) for day in schedule_doc.get("holidays", [])]
        schedule.exceptions = [dict(day) for day in schedule_doc.get("exceptions", [])]
        schedule.override = _json(schedule_doc.get("override"))
        schedule.closed_action = dict(schedule_doc["closed_action"])
        schedules[schedule.name] = schedule
    for menu_doc in document.get("menus", []):
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == menu_doc["name"]))
        if menu is None:
            menu = IvrMenu(name=menu_doc["name"], prompt=menu_doc["prompt"])
            session.add(menu)
        menu.prompt = menu_doc["prompt"]
        menu.options = [dict(option) for option in menu_doc.get("options", [])]
        menu.timeout_sec = menu_doc.get("timeout_sec", 5)
        menu.retries = menu_doc.get("retries", 2)
        menu.timeout_prompt = menu_doc.get("timeout_prompt")
        menu.invalid_prompt = menu_doc.get("invalid_prompt")
        menu.default_action = dict(menu_doc["default"])
    session.flush()
    for did_doc in document.get("dids", []):
        did = session.scalar(select(Did).where(Did.number == did_doc["number"]))
        if did is None:
            did = Did(number=did_doc["number"])
            session.add(did)
        did.entry = dict(did_doc["entry"])
        did.source = did_doc.get("source")
        did.city = did_doc.get("city")
        schedule_name = did_doc.get("schedule")
        did.schedule = (
            schedules.get(schedule_name)
            or session.scalar(select(Schedule).where(Schedule.name == schedule_name))
            if schedule_name
            else None
        )
        did.active = did_doc.get("active", True)
    session.flush()
    return notes


def _json(part: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A part of the document as its table's JSON column keeps it (empty or null: None)."""
    return dict(part) if part else None


def replace_document(session: Session, document: FlowDocument) -> list[tuple[str, str]]:
    """Make the draft tables equal the document exactly: what it lacks goes (queues deactivate).

    Returns store_document's notes.
    """
    notes = store_document(session, document)
    queues = {item["name"] for item in document.get("queues", [])}
    menus = {item["name"] for item in document.get("menus", [])}
    schedules = {item["name"] for item in document.get("schedules", [])}
    dids = {item["number"] for item in document.get("dids", [])}
    # Queues stay: cards, members and supervisors refer to them; an inactive one is not routed.
    for queue in session.scalars(select(Queue).where(Queue.name.not_in(queues))):
        queue.active = False
    for menu in session.scalars(select(IvrMenu).where(IvrMenu.name.not_in(menus))):
        session.delete(menu)
    for did in session.scalars(select(Did).where(Did.number.not_in(dids))):
        session.delete(did)
    session.flush()
    in_use = select(Did.schedule_id).where(Did.schedule_id.is_not(None))
    for schedule in session.scalars(
        select(Schedule).where(Schedule.name.not_in(schedules), Schedule.id.not_in(in_use))
    ):
        session.delete(schedule)
    session.flush()
    return notes


def _upsert_default_queue(session: Session, queue: str) -> None:
    _upsert(session, DEFAULT_QUEUE_KEY, queue)


def _upsert(session: Session, key: str, value: Any) -> None:
    setting = session.get(FlowSetting, key)
    if setting is None:
        session.add(FlowSetting(key=key, value=value))
    else:
        setting.value = value


def publish(session: Session, *, user_id: int | None, comment: str) -> FlowVersion:
    """Snapshot the draft as a new version; the FastAGI server routes the next call by it."""
    version = FlowVersion(created_by_id=user_id, comment=comment, document=draft_document(session))
    session.add(version)
    session.flush()
    return version


def latest_version(session: Session) -> FlowVersion | None:
    """The version calls follow now."""
    return session.scalar(select(FlowVersion).order_by(FlowVersion.id.desc()).limit(1))
