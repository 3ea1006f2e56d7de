"""Words for what the call flow and the timeline store as codes: queue titles, menu choices,
and each timeline entry as a sentence (the one place that says how a step reads)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from flask import g, has_app_context
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from dialplan.timeline import TimelineKind
from models import Queue, User
from models.flow import latest_version
from webadmin import labels
from webadmin.extensions import db


@dataclass(frozen=True)
class FlowNames:
    """Titles a person knows, for the names the call flow and Asterisk use."""

    queues: Mapping[str, str] = field(default_factory=dict)
    #: (menu, digits) -> what the option means ("Запись на приём").
    options: Mapping[tuple[str, str], str] = field(default_factory=dict)
    #: extension -> the operator's name.
    operators: Mapping[str, str] = field(default_factory=dict)

    def queue(self, name: str | None) -> str:
        """A queue's title (its name when the published flow does not know it)."""
        if not name:
            return ""
        return self.queues.get(name, name)

    def option(self, menu: str, digits: str, target: str = "") -> str:
        """What pressing `digits` in `menu` means: its label, else the queue it leads to."""
        return self.options.get((menu, digits)) or self.queue(target) or target

    def operator(self, extension: str | None) -> str:
        """The operator on an extension, by name when one has it."""
        if not extension:
            return ""
        return self.operators.get(extension, _("extension %(ext)s", ext=extension))


def read_flow_names(
    document: Mapping[str, Any] | None, operators: Mapping[str, str] | None = None
) -> FlowNames:
    """The titles in a call-flow document (a published version's)."""
    document = document or {}
    queues = {
        str(queue["name"]): str(queue.get("title") or queue["name"])
        for queue in document.get("queues", [])
        if queue.get("name")
    }
    options: dict[tuple[str, str], str] = {}
    for menu in document.get("menus", []):
        for option in menu.get("options", []):
            action = option.get("action") or {}
            label = action.get("label") or queues.get(str(action.get("target") or ""))
            if label:
                options[(str(menu.get("name")), str(option.get("digit")))] = str(label)
    return FlowNames(queues, options, dict(operators or {}))


def flow_names() -> FlowNames:
    """The titles of the published call flow and the operators, read once per request."""
    if not has_app_context():
        return FlowNames()
    if "flow_names" not in g:
        version = latest_version(db.session())
        operators = {
            str(extension): name
            for extension, name in db.session.execute(
                select(User.extension, User.name).where(User.extension.is_not(None))
            )
        }
        published = read_flow_names(version.document if version else None, operators)
        # The queues as they are now (a queue made since the last publication has a title too).
        titles = {
            name: title
            for name, title in db.session.execute(select(Queue.name, Queue.title))
            if title
        }
        g.flow_names = replace(published, queues={**published.queues, **titles})
    names: FlowNames = g.flow_names
    return names


def ivr_words(path: str | None, names: FlowNames | None = None) -> str:
    """A card's menu path ("main > 1") as the choices the caller made ("1 — Запись на приём")."""
    if not path:
        return ""
    names = names or flow_names()
    steps: list[str] = []
    menu = ""
    for part in (piece.strip() for piece in path.split(">")):
        if part == "default":
            steps.append(_("no choice, the menu's default"))
        elif part and all(char.isdigit() or char in "*#" for char in part):
            steps.append(f"{part} — {names.option(menu, part)}".rstrip(" —"))
        else:
            menu = part
    return "; ".join(steps) or _("the menu, no key pressed")


def _quoted(text: str) -> str:
    return f"«{text}»" if text else ""


def _closed(data: Mapping[str, Any], names: FlowNames) -> str:
    action = data.get("action")
    if action == "voicemail":
        return _("Outside business hours: the caller may leave a message")
    if action == "queue":
        return _(
            "Outside business hours: sent to the queue %(queue)s",
            queue=_quoted(names.queue(data.get("target"))),
        )
    if action == "menu":
        return _("Outside business hours: sent to another voice menu")
    return _("Outside business hours: a message, then the call ends")


def _overflow(data: Mapping[str, Any], names: FlowNames) -> str:
    why = {"empty": _("no operator was free"), "timeout": _("the wait ran out")}.get(
        str(data.get("condition")), _("it gave the call back")
    )
    source = _quoted(names.queue(data.get("from_queue")))
    if data.get("action") == "queue":
        return _(
            "The queue %(queue)s could not answer (%(why)s): sent to %(target)s",
            queue=source,
            why=why,
            target=_quoted(names.queue(data.get("to_queue"))),
        )
    return _(
        "The queue %(queue)s could not answer (%(why)s): a message, then the call ends",
        queue=source,
        why=why,
    )


def _route(data: Mapping[str, Any], names: FlowNames) -> str:
    action = data.get("action")
    if action == "queue":
        return _("Put in the queue %(queue)s", queue=_quoted(names.queue(data.get("queue"))))
    if action == "voicemail":
        return _("Offered to leave a message")
    return _("The call flow ended the call")


def _callback(data: Mapping[str, Any]) -> str:
    """Virtual hold: the caller left the queue with its key and gave a number (routes/callback)."""
    number = data.get("number") or "—"
    how = data.get("how")
    if how == "typed":
        return _("Asked to be called back on another number, %(number)s", number=number)
    if how == "caller_id":
        return _(
            "Asked to be called back; typed no usable number, so on their own, %(number)s",
            number=number,
        )
    if how == "hangup":
        return _(
            "Asked to be called back and hung up while confirming: on their own number, %(number)s",
            number=number,
        )
    return _("Asked to be called back on their own number, %(number)s", number=number)


def _seconds(data: Mapping[str, Any], key: str) -> int:
    try:
        return int(float(data.get(key) or 0))
    except (TypeError, ValueError):
        return 0


Sentence = Callable[[Mapping[str, Any], FlowNames], str]

#: Every kind of timeline entry, as a sentence. tests/web/test_event_labels.py checks
#: that each kind the product writes is here.
SENTENCES: dict[str, Sentence] = {
    TimelineKind.CALL_STARTED: lambda d, n: _(
        "The call came in to %(did)s", did=d.get("did") or "—"
    ),
    TimelineKind.CREATED: lambda d, n: _("The card was created"),
    TimelineKind.CARD_CREATED_LATE: lambda d, n: _(
        "The card was made at the hang-up: the server missed the start"
    ),
    TimelineKind.CARD_REBUILT_FROM_CEL: lambda d, n: _(
        "The card was rebuilt from Asterisk's records"
    ),
    TimelineKind.DID: lambda d, n: (
        _(
            "Dialled %(did)s (%(source)s)",
            did=d.get("did") or d.get("dialed") or "",
            source=", ".join(str(d[key]) for key in ("source", "city") if d.get(key)),
        )
        if d.get("source") or d.get("city")
        else _("Dialled %(did)s", did=d.get("did") or d.get("dialed") or "")
    ),
    TimelineKind.HOURS: lambda d, n: (
        _("Within business hours") if str(d.get("open")) == "true" else _("Outside business hours")
    ),
    TimelineKind.CLOSED_HOURS: _closed,
    TimelineKind.IVR_ENTERED: lambda d, n: _("Entered the voice menu"),
    TimelineKind.IVR_PROMPT: lambda d, n: (
        _("Heard the menu's prompt")
        if _seconds(d, "attempt") <= 1
        else _("Heard the menu's prompt again (attempt %(n)s)", n=_seconds(d, "attempt"))
    ),
    TimelineKind.IVR_KEY: lambda d, n: _(
        "Pressed %(digits)s — %(choice)s",
        digits=d.get("digits", ""),
        choice=n.option(
            str(d.get("menu", "")), str(d.get("digits", "")), str(d.get("target") or "")
        ),
    ),
    TimelineKind.IVR_TIMEOUT: lambda d, n: _("Pressed nothing"),
    TimelineKind.IVR_INVALID: lambda d, n: _(
        "Pressed %(digits)s: there is no such choice", digits=d.get("digits", "")
    ),
    TimelineKind.IVR_BACK: lambda d, n: _("Went back to the previous menu"),
    TimelineKind.IVR_RETRIES_EXHAUSTED: lambda d, n: ngettext(
        "Made no choice in %(num)d attempt",
        "Made no choice in %(num)d attempts",
        _seconds(d, "attempts"),
    ),
    TimelineKind.IVR_HANGUP: lambda d, n: _("The voice menu played a message and ended the call"),
    TimelineKind.CALLER_LEFT_IVR: lambda d, n: _("Hung up in the voice menu"),
    TimelineKind.FALLBACK: lambda d, n: _("Sent to the default queue"),
    TimelineKind.QUEUE_CHOSEN: lambda d, n: _(
        "The queue %(queue)s was chosen", queue=_quoted(n.queue(d.get("queue")))
    ),
    TimelineKind.ROUTE: _route,
    TimelineKind.QUEUE_JOINED: lambda d, n: _(
        "Joined the queue %(queue)s", queue=_quoted(n.queue(d.get("queue")))
    ),
    TimelineKind.QUEUE_OVERFLOW: _overflow,
    TimelineKind.QUEUE_FROM_DIALPLAN: lambda d, n: _(
        "Asterisk queued the call in %(queue)s without the server's answer",
        queue=_quoted(n.queue(d.get("queue"))),
    ),
    TimelineKind.OPERATOR_RANG: lambda d, n: _(
        "The phone of %(operator)s rang", operator=n.operator(d.get("extension"))
    ),
    TimelineKind.ANSWERED: lambda d, n: _(
        "Answered by %(operator)s",
        operator=d.get("operator") or n.operator(d.get("extension")) or "—",
    ),
    TimelineKind.TRANSFERRED: lambda d, n: _(
        "Transferred from %(source)s to %(target)s",
        source=_quoted(n.queue(d.get("from_queue"))) or "—",
        target=_quoted(n.queue(d.get("to_queue"))) or "—",
    ),
    TimelineKind.CARD_CLOSED_FROM_CEL: lambda d, n: _(
        "The card was closed from Asterisk's records: the server missed the hang-up"
    ),
    TimelineKind.ANSWER_FROM_CEL: lambda d, n: _(
        "The answer time was corrected from Asterisk's records"
    ),
    TimelineKind.RECORDING_FROM_DIALPLAN: lambda d, n: _(
        "Asterisk recorded the call under its own name, without the server"
    ),
    TimelineKind.ANSWER_TIME_UNKNOWN: lambda d, n: _(
        "The answer was not seen: its time is taken as the hang-up until Asterisk's records give it"
    ),
    TimelineKind.HOLD: lambda d, n: _("The caller was put on hold"),
    TimelineKind.UNHOLD: lambda d, n: _("The caller was taken off hold"),
    TimelineKind.HANGUP: lambda d, n: (
        _("The call ended: %(why)s", why=labels.label(labels.END_REASONS, str(d["reason"])))
        if d.get("reason")
        else _("The call ended")
    ),
    TimelineKind.MESSAGE_LEFT: lambda d, n: ngettext(
        "Left a message of %(num)d second",
        "Left a message of %(num)d seconds",
        _seconds(d, "seconds"),
    ),
    TimelineKind.NO_MESSAGE: lambda d, n: _("Left no message"),
    TimelineKind.OUTBOUND: lambda d, n: _(
        "The operator dialled %(number)s", number=d.get("number", "")
    ),
    TimelineKind.OUTBOUND_DIAL: lambda d, n: _(
        "The operator dialled %(number)s", number=d.get("number", "")
    ),
    TimelineKind.CALLBACK_REQUESTED: lambda d, n: _callback(d),
    TimelineKind.OUTBOUND_REFUSED: lambda d, n: _(
        "The number was refused: %(reason)s",
        reason=labels.label(labels.END_REASONS, d.get("reason", "")),
    ),
}


def event_sentence(
    kind: str, data: Mapping[str, Any] | None, names: FlowNames | None = None
) -> str:
    """One timeline entry as a sentence; an unknown kind by its label (or code)."""
    sentence = SENTENCES.get(kind)
    if sentence is None:
        return labels.label(labels.EVENTS, kind)
    return sentence(data or {}, names or flow_names())


# -- the audit log's details -------------------------------------------------------------

#: The card fields a `card.edit` entry names (webadmin/calls/completion.py), as the form says.
CARD_FIELDS = {
    "purpose_id": "Purpose",
    "category_id": "Category",
    "sub_category_id": "Subcategory",
    "notes": "Summary",
    "resolved_first_call": "Resolved on first call",
    "needs_callback": "Needs a callback",
    "tags": "Tags",
}


def _dictionary_change(detail: Mapping[str, Any]) -> str:
    change, name = str(detail.get("change") or ""), _quoted(str(detail.get("name") or ""))
    if change.startswith("rename from "):
        return _(
            "%(name)s, renamed from %(old)s",
            name=name,
            old=_quoted(change.removeprefix("rename from ")),
        )
    words = {
        "create": _("added"),
        "move": _("moved"),
        "activate": _("shown again"),
        "deactivate": _("hidden"),
        "delete": _("deleted"),
    }
    return f"{name}: {words.get(change, change)}" if change else name


def _version(detail: Mapping[str, Any]) -> str:
    version = detail.get("version")
    text = _("version %(id)s", id=version) if version else ""
    comment = str(detail.get("comment") or "")
    return f"{text} · {_quoted(comment)}" if comment and text else text


def audit_details(action: str, detail: Mapping[str, Any] | None) -> str:
    """An audit entry's details in words; an action new to the site shows its fields."""
    detail = detail or {}
    names = flow_names()
    if action.startswith("recording.") or action == "card.complete":
        return ""  # the card's link says it all (a Range header is no one's business here)
    if action == "card.edit":
        fields = [
            _(CARD_FIELDS[name]) if name in CARD_FIELDS else name
            for name in dict(detail.get("changed") or {})
        ]
        return _("Changed: %(fields)s", fields=", ".join(fields))
    if action == "auth.login_failed":
        return _("Login tried: %(login)s", login=detail.get("login") or "—")
    if action.startswith("user."):
        extension = detail.get("extension")
        who = _("user %(login)s", login=detail.get("login") or "—")
        return f"{who}, {names.operator(str(extension))}" if extension else who
    if action == "dictionary.change":
        return _dictionary_change(detail)
    if action.startswith("operator."):
        queues = ", ".join(names.queue(str(queue)) for queue in detail.get("queues") or [])
        reason = labels.pause_reason(str(detail["reason"])) if detail.get("reason") else ""
        # A supervisor's act names the operator acted on.
        whom = names.operator(str(detail["extension"])) if "operator" in detail else ""
        return " · ".join(part for part in (whom, reason, queues) if part)
    if action in ("callflow.publish", "callflow.rollback", "callflow.apply"):
        return _version(detail)
    if action == "callflow.change":
        from webadmin.callflow.words import PARTS

        part = str(detail.get("part") or "")
        return " ".join(
            text
            for text in (
                str(PARTS[part]) if part in PARTS else part,
                _quoted(str(detail.get("name") or "")),
            )
            if text
        )
    return "; ".join(f"{key}: {value}" for key, value in detail.items() if value)
