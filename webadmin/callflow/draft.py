"""The draft call flow as the site checks it: known prompts, problems in words, links."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flask import current_app, g, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from callcards.config import Settings
from dialplan import Problem, validate
from dialplan.document import FlowDocument
from dialplan.settings import OVERFLOW_WHEN
from dialplan.virtual_hold import DEFAULT_PROMPT
from models.flow import draft_document
from models.routing import Did, IvrMenu, Queue, Schedule
from webadmin.callflow.sounds import PROMPT_PREFIX, installed_sounds, uploaded_prompts
from webadmin.callflow.words import place_text
from webadmin.extensions import db


def site_settings() -> Settings:
    """The settings the site was started with."""
    settings: Settings = current_app.config["CALLCARDS_SETTINGS"]
    return settings


def prompts_in(document: Mapping[str, Any]) -> set[str]:
    """Every sound a flow document would play."""
    found: list[Any] = [document.get("recording_announcement")]
    for menu in document.get("menus", []):
        found += [menu.get(key) for key in ("prompt", "timeout_prompt", "invalid_prompt")]
        actions = [option.get("action") or {} for option in menu.get("options", [])]
        found += [action.get("message") for action in [*actions, menu.get("default") or {}]]
    for schedule in document.get("schedules", []):
        found.append((schedule.get("closed_action") or {}).get("message"))
    for queue in document.get("queues", []):
        found += [(queue.get(key) or {}).get("message") for key in OVERFLOW_WHEN]
        offer = queue.get("callback_offer") or {}
        if offer.get("after_sec"):
            found.append(offer.get("prompt") or DEFAULT_PROMPT)
    return {prompt for prompt in found if isinstance(prompt, str) and prompt}


def known_prompts(document: Mapping[str, Any] | None = None) -> set[str]:
    """The sounds Asterisk can play: installed ones and uploads.

    Without a sounds folder the stock sounds cannot be checked: those the document names
    are taken on trust, and only uploads ("callcards/...") are checked.
    """
    settings = site_settings()
    known = {prompt.sound for prompt in uploaded_prompts(settings.prompts_dir)}
    if settings.sounds_dir is None:
        known |= {p for p in prompts_in(document or {}) if not p.startswith(PROMPT_PREFIX)}
    else:
        known |= set(installed_sounds(settings.sounds_dir))
    return known


def prompt_error(prompt: str | None) -> str | None:
    """A message when a prompt named in a form is not a sound Asterisk has (None: fine)."""
    prompt = (prompt or "").strip()
    if not prompt:
        return None
    if "known_prompts" not in g:
        g.known_prompts = known_prompts()
    if prompt in g.known_prompts or (
        site_settings().sounds_dir is None and not prompt.startswith(PROMPT_PREFIX)
    ):
        return None
    return _(
        "There is no sound “%(name)s”: upload it on the Prompts page or pick one from the list.",
        name=prompt,
    )


def check_document(document: Mapping[str, Any]) -> list[Problem]:
    """What would break a call in this document, prompts included."""
    return validate(document, known_prompts=known_prompts(document))


def check_draft() -> tuple[FlowDocument, list[Problem]]:
    """The draft document and what would break a call in it."""
    document = draft_document(db.session())
    return document, check_document(document)


def problems_at(problems: list[Problem], place: str) -> list[Problem]:
    """The problems of one part ("menu main") and of its own fields ("menu main, option 1")."""
    return [p for p in problems if p.where == place or p.where.startswith(place + ",")]


# --- problems in words -------------------------------------------------------------------

_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"digit (.+) is used twice"),
        lambda m: _("key %(digit)s is used twice", digit=m[1]),
    ),
    (
        re.compile(r"queue '(.+)' does not exist; unknown or broken calls go there"),
        lambda m: _("queue “%(name)s” does not exist; unknown or broken calls go there", name=m[1]),
    ),
    (
        re.compile(r"queue '(.+)' does not exist"),
        lambda m: _("queue “%(name)s” does not exist (or is deactivated)", name=m[1]),
    ),
    (
        re.compile(r"menu '(.+)' does not exist"),
        lambda m: _("menu “%(name)s” does not exist", name=m[1]),
    ),
    (
        re.compile(r"schedule '(.+)' does not exist"),
        lambda m: _("business hours “%(name)s” do not exist", name=m[1]),
    ),
    (
        re.compile(r"prompt '(.+)' is not among the sound files"),
        lambda m: _("prompt “%(name)s” is not among the sound files", name=m[1]),
    ),
    (
        re.compile(
            r"no key or default leads to a queue or a hang-up, so callers go round menus "
            r"(.+) until the loop guard queues them"
        ),
        lambda m: _(
            "no key and no default lead to a queue or a hang-up: callers would go round "
            "menus %(menus)s",
            menus=m[1],
        ),
    ),
    (
        re.compile(r"the overflow goes round queues (.+); a caller would never leave them"),
        lambda m: _(
            "when they cannot answer, these queues send callers round in a circle: %(queues)s",
            queues=m[1],
        ),
    ),
    (
        re.compile(r"the same number as DID (.+); calls reach only one"),
        lambda m: _("the same number as DID %(number)s; calls reach only one of them", number=m[1]),
    ),
    (
        re.compile(r"no default queue is set.*"),
        lambda m: _("no default queue is set; unknown or broken calls need one"),
    ),
    (
        re.compile(r"'(.+)' is reserved in queues.conf; pick another name"),
        lambda m: _(
            "“%(name)s” is reserved in Asterisk's queues.conf; pick another name", name=m[1]
        ),
    ),
    (
        re.compile(r"use only Latin letters, digits, '_', '.' and '-'"),
        lambda m: _("use only Latin letters, digits, “_”, “.” and “-”"),
    ),
]


def problem_text(problem: Problem) -> str:
    """What is wrong, in the admin's language when the check is a known one."""
    for pattern, words in _MESSAGES:
        match = pattern.fullmatch(problem.message)
        if match:
            return words(match)
    return problem.message


@dataclass(frozen=True)
class ShownProblem:
    """A problem as the overview lists it: where, what, and the page that fixes it."""

    place: str
    text: str
    link: str | None


def shown(problems: list[Problem]) -> list[ShownProblem]:
    """The problems with words and links to the forms that fix them."""
    return [
        ShownProblem(place_text(p.where), problem_text(p), problem_link(p.where)) for p in problems
    ]


def problem_link(where: str) -> str | None:
    """The page where the part a problem names is edited."""
    head = where.split(", ")[0]
    kind, _space, name = head.partition(" ")
    if where == "default_queue":
        return url_for("callflow.queues") + "#default-queue"
    if where == "recording_announcement":
        return url_for("callflow.queues") + "#recording"
    lookups: dict[str, tuple[Any, Any, str, str]] = {
        "menu": (IvrMenu.id, IvrMenu.name, "callflow.menu_edit", "menu_id"),
        "DID": (Did.id, Did.number, "callflow.did_edit", "did_id"),
        "schedule": (Schedule.id, Schedule.name, "callflow.hours_edit", "schedule_id"),
        "queue": (Queue.id, Queue.name, "callflow.queue_edit", "queue_id"),
    }
    if kind not in lookups:
        return None
    column, key, endpoint, argument = lookups[kind]
    found = db.session.scalar(select(column).where(key == name))
    return url_for(endpoint, **{argument: found}) if found is not None else None


def actions_in(document: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every action of a document with its place, named as dialplan.validate names places."""
    for did in document.get("dids", []):
        yield f"DID {did['number']}, entry", did.get("entry") or {}
    for menu in document.get("menus", []):
        for option in menu.get("options", []):
            yield f"menu {menu['name']}, option {option['digit']}", option.get("action") or {}
        yield f"menu {menu['name']}, default", menu.get("default") or {}
    for schedule in document.get("schedules", []):
        yield f"schedule {schedule['name']}, closed_action", schedule.get("closed_action") or {}
    for queue in document.get("queues", []):
        for key in OVERFLOW_WHEN:
            yield f"queue {queue['name']}, {key}", queue.get(key) or {}


def references(kind: str, name: str) -> list[str]:
    """Where the draft sends calls to this queue or menu, in words (empty: nowhere)."""
    document = draft_document(db.session())
    places = ["default_queue"] if kind == "queue" and document["default_queue"] == name else []
    places += [
        where
        for where, action in actions_in(document)
        if action.get("kind") == kind and action.get("target") == name
    ]
    return [place_text(where) for where in places]
