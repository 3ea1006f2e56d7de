"""An action (queue, menu, hang up, voicemail, repeat, back) as one select in a form, and back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from wtforms import SelectChoice

from dialplan.settings import VOICEMAIL_GREETING, VOICEMAIL_MAX_SEC
from models.routing import IvrMenu, Queue
from webadmin.extensions import db


def draft_targets() -> tuple[dict[str, str], list[str]]:
    """The active queues (name -> title) and the menus of the draft, to send calls to."""
    queues = {
        queue.name: queue.title
        for queue in db.session.scalars(
            select(Queue).where(Queue.active.is_(True)).order_by(Queue.name)
        )
    }
    menus = list(db.session.scalars(select(IvrMenu.name).order_by(IvrMenu.name)))
    return queues, menus


def action_value(action: Mapping[str, Any] | None) -> str:
    """The select's value for an action: "queue:reception", "menu:main", "hangup"..."""
    if not action:
        return ""
    kind = str(action.get("kind", ""))
    return f"{kind}:{action.get('target') or ''}" if kind in ("queue", "menu") else kind


def action_from(
    value: str,
    message: str | None = None,
    label: str | None = None,
    max_message_sec: int | None = None,
) -> dict[str, Any]:
    """The document's action for a select's value (and the hang-up message or voicemail
    greeting, the longest voicemail message, the option label)."""
    kind, _colon, target = value.partition(":")
    action: dict[str, Any] = {"kind": kind}
    if kind in ("queue", "menu"):
        action["target"] = target
    if kind in ("hangup", "voicemail"):
        action["message"] = (message or "").strip() or None
    if kind == "voicemail":
        # Written out, so the draft (and its prompt check) names the greeting that plays.
        action["message"] = action["message"] or VOICEMAIL_GREETING
        action["max_message_sec"] = max_message_sec or VOICEMAIL_MAX_SEC
    if label and label.strip():
        action["label"] = label.strip()
    return action


def action_choices(
    kinds: Iterable[str],
    queues: Mapping[str, str],
    menus: Iterable[str],
    current: Iterable[str] = (),
) -> list[SelectChoice]:
    """The choices of an action select; a current value pointing nowhere is kept, marked."""
    kinds = tuple(kinds)
    choices = [SelectChoice("", "—")]
    if "queue" in kinds:
        choices += [
            SelectChoice(f"queue:{name}", _("queue: %(title)s (%(name)s)", title=title, name=name))
            for name, title in queues.items()
        ]
    if "menu" in kinds:
        choices += [SelectChoice(f"menu:{name}", _("menu: %(name)s", name=name)) for name in menus]
    words = {
        "hangup": _("message, then hang up"),
        "voicemail": _("greeting, then the caller leaves a message (voicemail)"),
        "repeat": _("repeat this menu"),
        "back": _("back to the previous menu"),
    }
    choices += [
        SelectChoice(kind, words[kind])
        for kind in ("hangup", "voicemail", "repeat", "back")
        if kind in kinds
    ]
    offered = {choice.value for choice in choices}
    for value in current:
        if value and value not in offered:
            choices.append(SelectChoice(value, _("%(value)s (does not exist)", value=value)))
            offered.add(value)
    return choices


def missing_target(value: str, queues: Mapping[str, str], menus: Iterable[str]) -> str | None:
    """A message when the action sends calls to a queue or menu that does not exist."""
    kind, _colon, target = value.partition(":")
    if kind == "queue" and target not in queues:
        return _("Queue “%(name)s” does not exist or is deactivated.", name=target)
    if kind == "menu" and target not in set(menus):
        return _("Menu “%(name)s” does not exist.", name=target)
    return None
