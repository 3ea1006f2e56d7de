"""The call flow as one document: built from the draft tables, written back, published.

The document has the shape `dialplan.settings.FlowSettings.from_document` reads; models/
does not import dialplan/, so this module only moves plain data between tables and JSON.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.routing import Did, FlowSetting, FlowVersion, IvrMenu, Queue, Schedule

DEFAULT_QUEUE_KEY = "default_queue"
ANNOUNCEMENT_KEY = "recording_announcement"


def draft_document(session: Session) -> dict[str, Any]:
    """The call flow as the admin has edited it so far (not yet what calls follow)."""
    default = session.get(FlowSetting, DEFAULT_QUEUE_KEY)
    announcement = session.get(FlowSetting, ANNOUNCEMENT_KEY)
    # Only when set, so documents from before the announcement existed read the same.
    extra = {ANNOUNCEMENT_KEY: announcement.value} if announcement and announcement.value else {}
    return {
        "default_queue": default.value if default else "reception",
        **extra,
        "queues": [
            {
                "name": queue.name,
                "title": queue.title,
                "max_wait_sec": queue.max_wait_sec,
                "service_level_sec": queue.service_level_sec,
            }
            for queue in session.scalars(
                select(Queue).where(Queue.active.is_(True)).order_by(Queue.name)
            )
        ],
        "menus": [
            {
                "name": menu.name,
                "prompt": menu.prompt,
                "options": list(menu.options or []),
                "timeout_sec": menu.timeout_sec,
                "retries": menu.retries,
                "timeout_prompt": menu.timeout_prompt,
                "invalid_prompt": menu.invalid_prompt,
                "default": dict(menu.default_action or {}),
            }
            for menu in session.scalars(select(IvrMenu).order_by(IvrMenu.name))
        ],
        "schedules": [
            {
                "name": schedule.name,
                "timezone": schedule.timezone,
                "weekly": dict(schedule.weekly or {}),
                "holidays": list(schedule.holidays or []),
                "exceptions": list(schedule.exceptions or []),
                "override": schedule.override,
                "closed_action": dict(schedule.closed_action or {}),
            }
            for schedule in session.scalars(select(Schedule).order_by(Schedule.name))
        ],
        "dids": [
            {
                "number": did.number,
                "entry": dict(did.entry or {}),
                "source": did.source,
                "city": did.city,
                "schedule": did.schedule.name if did.schedule else None,
                "active": did.active,
            }
            for did in session.scalars(select(Did).order_by(Did.number))
        ],
    }


def store_document(session: Session, document: dict[str, Any]) -> None:
    """Make the draft tables say what the document says (by name; queues are kept, not deleted)."""
    _upsert_default_queue(session, document.get("default_queue", "reception"))
    _upsert(session, ANNOUNCEMENT_KEY, document.get(ANNOUNCEMENT_KEY))
    for item in document.get("queues", []):
        queue = session.scalar(select(Queue).where(Queue.name == item["name"]))
        if queue is None:
            queue = Queue(name=item["name"], title=item.get("title") or item["name"])
            session.add(queue)
        queue.title = item.get("title") or item["name"]
        queue.max_wait_sec = item.get("max_wait_sec", 120)
        queue.service_level_sec = item.get("service_level_sec", 20)
        queue.active = True
    schedules: dict[str, Schedule] = {}
    for item in document.get("schedules", []):
        schedule = session.scalar(select(Schedule).where(Schedule.name == item["name"]))
        if schedule is None:
            schedule = Schedule(name=item["name"])
            session.add(schedule)
        schedule.timezone = item["timezone"]
        schedule.weekly = item.get("weekly", {})
        schedule.holidays = item.get("holidays", [])
        schedule.exceptions = item.get("exceptions", [])
        schedule.override = item.get("override")
        schedule.closed_action = item["closed_action"]
        schedules[schedule.name] = schedule
    for item in document.get("menus", []):
        menu = session.scalar(select(IvrMenu).where(IvrMenu.name == item["name"]))
        if menu is None:
            menu = IvrMenu(name=item["name"], prompt=item["prompt"])
            session.add(menu)
        menu.prompt = item["prompt"]
        menu.options = item.get("options", [])
        menu.timeout_sec = item.get("timeout_sec", 5)
        menu.retries = item.get("retries", 2)
        menu.timeout_prompt = item.get("timeout_prompt")
        menu.invalid_prompt = item.get("invalid_prompt")
        menu.default_action = item["default"]
    session.flush()
    for item in document.get("dids", []):
        did = session.scalar(select(Did).where(Did.number == item["number"]))
        if did is None:
            did = Did(number=item["number"])
            session.add(did)
        did.entry = item["entry"]
        did.source = item.get("source")
        did.city = item.get("city")
        schedule_name = item.get("schedule")
        did.schedule = (
            schedules.get(schedule_name)
            or session.scalar(select(Schedule).where(Schedule.name == schedule_name))
            if schedule_name
            else None
        )
        did.active = item.get("active", True)
    session.flush()


def replace_document(session: Session, document: dict[str, Any]) -> None:
    """Make the draft tables equal the document exactly: what it lacks goes (queues deactivate)."""
    store_document(session, document)
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
    for schedule in session.scalars(select(Schedule).where(
            Schedule.name.not_in(schedules), Schedule.id.not_in(in_use))):
        session.delete(schedule)
    session.flush()


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
