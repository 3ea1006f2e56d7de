"""The call-flow settings routing reads: queues, IVR menus, business hours, DIDs.

`FlowSettings.from_document(doc)` builds them from a plain JSON-able document and
`FlowSettings.to_document()` gives the same document back. The document (typed once as
`dialplan.document.FlowDocument`, whose parts also give the reader its field names)::

    {
      "default_queue": "general",                  # required; where unknown or broken calls go
      "recording_announcement": "callcards/rec",   # optional, default null: played to every
                                                   # caller first (every call is recorded)
      "queues": [                                  # each list below is optional, default []
        {"name": "general",                        # required, the queue name in queues.conf
         "title": "Общие вопросы",                 # default: the name
         "max_wait_sec": 120,                      # default 120, > 0; the timeout given to Queue()
         "service_level_sec": 20,                  # default 20, >= 0
         "when_empty": {"kind": "queue", "target": "reception"},  # default: hang up, no
                                                   # message; no operator to take the call
                                                   # (JOINEMPTY, LEAVEEMPTY, ..., FULL)
         "when_timeout": {"kind": "hangup", "message": "im-sorry"},  # default: hang up;
                                                   # max_wait_sec ran out (TIMEOUT)
         "setup": {                                # default null: not in this version (older
                                                   # ones); how Asterisk rings the operators,
                                                   # applied through AMI, not read by routing
           "strategy": "rrmemory",                 # default rrmemory; one of STRATEGIES
           "ring_timeout_sec": 15,                 # default 15, > 0
           "wrapup_sec": 0,                        # default 0, >= 0
           "retention_days": null,                 # default null = keep recordings forever
           "members": [{"login": "operator1", "penalty": 0}]},  # default []; staff logins
         "callback_offer": {"after_sec": 60, "key": "1", "repeat_sec": 60}}  # default null:
                                                   # no offer; dialplan.virtual_hold
      ],
      "menus": [
        {"name": "main", "prompt": "hello",        # both required; prompts are sound names
         "options": [                              # default []; digit 0-9, * or #
           {"digit": "1", "action": {"kind": "queue", "target": "appointments"}}],
         "timeout_sec": 3,                         # default 5, > 0
         "retries": 2,                             # default 2, >= 0: replays after a failed try
         "timeout_prompt": null,                   # default null: just replay the menu
         "invalid_prompt": "im-sorry",             # default null
         "default": {"kind": "queue", "target": "general"}}   # required; when retries run out
      ],
      "schedules": [
        {"name": "clinic", "timezone": "Europe/Moscow",       # both required; IANA zone
         "weekly": {"mon": ["08:00-20:00"], "fri": ["08:00-20:00", "22:00-06:00"],
                    "tue": [], ...},               # keys mon..sun, missing day = closed
         "holidays": [{"date": "2026-01-01", "name": "Новый год"}],      # name optional
         "exceptions": [{"date": "2026-12-31", "ranges": ["09:00-15:00"], "name": null},
                        {"date": "2026-05-04", "ranges": []}],          # [] = closed all day
         "override": {"state": "closed", "until": "2026-06-01T09:00:00+03:00"},  # or null;
                                                   # until: ISO time with offset, or null = forever
         "closed_action": {"kind": "hangup", "message": "vm-goodbye"}}   # required; or
                   # {"kind": "voicemail", "message": "vm-intro", "max_message_sec": 120}
      ],
      "dids": [
        {"number": "74951234567",                  # required; any of +7 (495) 123-45-67 forms
         "entry": {"kind": "menu", "target": "main"},           # required
         "source": "Яндекс.Директ", "city": "Москва",           # default null
         "schedule": "clinic",                     # default null = always open
         "active": true}                           # default true
      ]
    }

An action is ``{"kind": ..., "target": ..., "message": ..., "max_message_sec": ...,
"label": ...}``: ``target`` (a queue or menu name) belongs to kinds ``queue`` and ``menu``
only; ``message`` to ``hangup`` (a prompt played before hanging up, may be null) and
``voicemail`` (the greeting before the beep, default "vm-intro": "please leave your message
after the tone"); ``max_message_sec`` (default 120, 5 to 600: the longest message a caller
may leave) to ``voicemail`` only; ``label`` (optional) says what the option means to a
person. A voicemail action plays the greeting, records the caller's message as the call's
recording, then hangs up. Kinds: a menu option may be any of queue, menu, hangup, repeat,
back; a menu default queue, menu or hangup; a closed action queue, menu, hangup or
voicemail; a DID entry queue or menu; a queue's when_empty and when_timeout (its overflow,
`dialplan.overflow`) queue or hangup. A time range is ``"HH:MM-HH:MM"``; when the end is
not after the start the range runs past midnight into the next day, and ``"00:00-00:00"``
is the whole day.

Null is accepted only where shown (texts that may be absent, "override", "until",
"setup", "retention_days") and for a queue's "when_empty" / "when_timeout", read as hang up
without a message.
Unknown fields (a queue's strategy outside "setup", a database id), wrong types and bad values raise
`SettingsError` naming the place. Names an action or a DID refers to need not exist for
the document to be read: a call meeting a missing one goes to the default queue. A name,
digit or date given twice is kept once (the first). `dialplan.validation.validate`
reports both, together with whatever else would break a call.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dialplan.document import (
    FLOOR_FIELDS,
    SECTIONS,
    ActionDoc,
    DidDoc,
    ExceptionDoc,
    Fields,
    FlowDocument,
    HolidayDoc,
    MemberDoc,
    MenuDoc,
    OptionDoc,
    OverrideDoc,
    QueueCallbacksDoc,
    QueueDoc,
    QueueSetupDoc,
    ScheduleDoc,
    describe,
    keys_of,
)
from dialplan.document import Problem as Problem  # re-exported: settings errors name these
from dialplan.document import SettingsError as SettingsError
from dialplan.virtual_hold import NO_OFFER, CallbackOffer, dump_offer, read_offer

ACTION_KINDS = ("queue", "menu", "hangup", "repeat", "back", "voicemail")
OPTION_KINDS = ("queue", "menu", "hangup", "repeat", "back")
DEFAULT_KINDS = ("queue", "menu", "hangup")
CLOSED_KINDS = ("queue", "menu", "hangup", "voicemail")
MESSAGE_KINDS = ("hangup", "voicemail")  # the kinds that play a prompt of their own
#: A voicemail action's greeting when none is set: "Please leave your message after the tone.
#: When done, hang up, or press the pound key." (Asterisk's core sounds).
VOICEMAIL_GREETING = "vm-intro"
VOICEMAIL_MAX_SEC = 120
VOICEMAIL_MAX_SEC_LIMITS = (5, 600)  # a message shorter is cut off, longer fills the disk
ENTRY_KINDS = ("queue", "menu")
OVERFLOW_KINDS = ("queue", "hangup")
OVERFLOW_WHEN = ("when_empty", "when_timeout")
STRATEGIES = (
    "rrmemory",
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "linear",
    "wrandom",
    "rrordered",
)
#: A queue's callback mode: tasks offered to its operators, or dialled when one is free.
CALLBACK_MODES = ("offer", "auto")
#: A retry step: "+15m", "+2h", "+1d", or the next working day's opening.
RETRY_STEP = re.compile(r"^\+([1-9][0-9]{0,3})([mhd])$")
NEXT_WORKING_DAY = "next working day"
MENU_DIGITS = frozenset("0123456789*#")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
OVERRIDE_STATES = ("open", "closed")


@dataclass(frozen=True)
class Action:
    """What a call does next: join a queue, enter a menu, hang up, leave a message, repeat or
    go back."""

    kind: str
    target: str | None = None
    message: str | None = None  # hangup: played before; voicemail: the greeting
    label: str | None = None
    max_message_sec: int | None = None  # voicemail only


HANG_UP = Action("hangup")


@dataclass(frozen=True)
class Member:
    """An operator of a queue (a staff login) and the penalty Asterisk rings them by."""

    login: str
    penalty: int = 0


@dataclass(frozen=True)
class QueueSetup:
    """How Asterisk rings a queue's operators: applied through AMI (pbx/), not read by routing."""

    strategy: str = "rrmemory"
    ring_timeout_sec: int = 15
    wrapup_sec: int = 0
    retention_days: int | None = None  # None: recordings are kept forever
    members: tuple[Member, ...] = ()
    wrapup_hold_sec: int = FLOOR_FIELDS["wrapup_hold_sec"][0]
    missed_rings_pause: int = FLOOR_FIELDS["missed_rings_pause"][0]
    max_wait_alert_sec: int = FLOOR_FIELDS["max_wait_alert_sec"][0]
    service_level_target_pct: int = FLOOR_FIELDS["service_level_target_pct"][0]


@dataclass(frozen=True)
class QueueCallbacks:
    """How a queue's callback tasks are worked: when to retry, how often, what is lost."""

    retry_schedule: tuple[str, ...] = ("+15m", "+2h", NEXT_WORKING_DAY)
    max_attempts: int = 3
    short_abandon_sec: int = 5  # an abandon shorter than this is no lost caller
    mode: str = "offer"  # CALLBACK_MODES
    schedule: str | None = None  # the business hours retries keep to; None: the DID's
    caller_id: str | None = None  # the number a called-back customer sees; None: the trunk's


@dataclass(frozen=True)
class Queue:
    """An Asterisk queue as routing sees it."""

    name: str
    title: str = ""
    max_wait_sec: int = 120
    service_level_sec: int = 20
    when_empty: Action = HANG_UP  # no operator could take the call
    when_timeout: Action = HANG_UP  # max_wait_sec ran out
    setup: QueueSetup | None = None  # None: a version from before the setup was versioned
    callbacks: QueueCallbacks = QueueCallbacks()
    callback_offer: CallbackOffer = NO_OFFER  # virtual hold (dialplan.virtual_hold)


@dataclass(frozen=True)
class Menu:
    """A voice menu: its prompt, the keys a caller may press, what silence does."""

    name: str
    prompt: str
    default: Action
    options: Mapping[str, Action] = field(default_factory=dict)
    timeout_sec: int = 5
    retries: int = 2
    timeout_prompt: str | None = None
    invalid_prompt: str | None = None


@dataclass(frozen=True)
class TimeRange:
    """Opening hours within a day; ends on the next day when end <= start."""

    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        """Whether the range runs on into the next day."""
        return self.end <= self.start

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


@dataclass(frozen=True)
class Holiday:
    """A date closed all day."""

    date: date
    name: str | None = None


@dataclass(frozen=True)
class DayException:
    """A date with its own hours; no ranges means closed all day."""

    date: date
    ranges: tuple[TimeRange, ...] = ()
    name: str | None = None

    @property
    def closed(self) -> bool:
        """Whether the date is closed all day."""
        return not self.ranges


@dataclass(frozen=True)
class Override:
    """A manual open/closed switch, until a moment (None = until switched off)."""

    state: str
    until: datetime | None = None


@dataclass(frozen=True)
class Schedule:
    """Business hours in one time zone, and what a call does outside them."""

    name: str
    timezone: str
    closed_action: Action
    weekly: tuple[tuple[TimeRange, ...], ...] = ((),) * 7  # Monday first
    holidays: tuple[Holiday, ...] = ()
    exceptions: Mapping[date, DayException] = field(default_factory=dict)
    override: Override | None = None

    @property
    def zone(self) -> ZoneInfo:
        """The schedule's time zone."""
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Did:
    """A dialled number: where its calls enter and which campaign it tracks."""

    number: str
    entry: Action
    source: str | None = None
    city: str | None = None
    schedule: str | None = None
    active: bool = True


@dataclass(frozen=True)
class FlowSettings:
    """Everything routing needs, by name (DIDs by number as written)."""

    default_queue: str
    queues: Mapping[str, Queue] = field(default_factory=dict)
    menus: Mapping[str, Menu] = field(default_factory=dict)
    schedules: Mapping[str, Schedule] = field(default_factory=dict)
    dids: Mapping[str, Did] = field(default_factory=dict)
    recording_announcement: str | None = None

    @classmethod
    def from_document(cls, doc: FlowDocument | Mapping[str, Any]) -> FlowSettings:
        """Build the settings from a document; SettingsError if any part is malformed."""
        read = read_document(doc)
        if read.errors:
            more = len(read.errors) - 1
            message = str(read.errors[0])
            if more:
                message += f" (and {more} more problem{'s' if more > 1 else ''})"
            raise SettingsError(message, read.errors)
        return read.settings

    def to_document(self) -> FlowDocument:
        """The settings as a JSON-able document that from_document reads back."""
        doc: FlowDocument = {
            "default_queue": self.default_queue,
            "queues": [_dump_queue(q) for q in self.queues.values()],
            "menus": [_dump_menu(m) for m in self.menus.values()],
            "schedules": [_dump_schedule(s) for s in self.schedules.values()],
            "dids": [_dump_did(d) for d in self.dids.values()],
        }
        if self.recording_announcement is not None:
            doc["recording_announcement"] = self.recording_announcement
        return doc


@dataclass
class ReadDocument:
    """What reading a document gave: the settings and every problem met on the way."""

    settings: FlowSettings
    errors: list[Problem]  # malformed parts, left out of the settings
    duplicates: list[Problem]  # names, digits or dates given twice; the first was kept
    broken: set[tuple[str, str]]  # ("queue" | "menu" | "schedule" | "did", name) left out
    readable: bool = True  # False when even the top level was malformed


def read_document(doc: Any) -> ReadDocument:
    """Read as much of a document as is well formed, collecting the problems."""
    read = ReadDocument(FlowSettings(default_queue=""), [], [], set())
    try:
        tables = tuple(key for key, _label, _name in SECTIONS)
        fields = Fields(doc, "settings", *keys_of(FlowDocument))
        default_queue = fields.text("default_queue")
        announcement = fields.optional_text("recording_announcement")
        pieces = {key: fields.items(key) for key in tables}
    except SettingsError as exc:
        read.errors.extend(exc.problems)
        read.readable = False
        return read
    readers: dict[str, Any] = {
        "queues": _read_queue,
        "menus": _read_menu,
        "schedules": _read_schedule,
        "dids": _read_did,
    }
    found: dict[str, dict[str, Any]] = {}
    for key, label, name_key in SECTIONS:
        reader = readers[key]
        found[key] = {}
        for index, item in enumerate(pieces[key]):
            given = item.get(name_key) if isinstance(item, Mapping) else None
            where = f"{label} {given}" if isinstance(given, str) and given else f"{key}[{index}]"
            try:
                piece = reader(item, where)
            except SettingsError as exc:
                read.errors.extend(exc.problems)
                if isinstance(given, str) and given:
                    read.broken.add((label.lower(), given))
                continue
            name: str = getattr(piece, name_key)
            if name in found[key]:
                read.duplicates.append(Problem(where, f"{label} {name} is listed twice"))
                continue
            found[key][name] = piece
    read.settings = FlowSettings(
        default_queue,
        found["queues"],
        found["menus"],
        found["schedules"],
        found["dids"],
        announcement,
    )
    if read.errors:
        return read
    read.duplicates.extend(_read_duplicates(pieces))
    return read


def parse_range(text: str) -> TimeRange:
    """A TimeRange from "HH:MM-HH:MM"; ValueError with a person's message otherwise."""
    match = _RANGE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f'time range {text!r} should look like "08:00-20:00"')
    hh1, mm1, hh2, mm2 = (int(part) for part in match.groups())
    if hh1 > 23 or hh2 > 23 or mm1 > 59 or mm2 > 59:
        raise ValueError(f"time range {text!r}: hours go 00:00 to 23:59 (write 00:00 for midnight)")
    start, end = time(hh1, mm1), time(hh2, mm2)
    if start == end and start != time(0):
        raise ValueError(
            f"time range {text!r} starts and ends at the same time "
            "(use 00:00-00:00 for the whole day)"
        )
    return TimeRange(start, end)


_RANGE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")


def _read_action(obj: Any, where: str, kinds: tuple[str, ...]) -> Action:
    fields = Fields(obj, where, *keys_of(ActionDoc))
    kind = fields.text("kind")
    if kind not in kinds:
        raise SettingsError.at(where, f"kind {kind!r} is not allowed here (use {', '.join(kinds)})")
    target = fields.optional_text("target")
    message = fields.optional_text("message")
    if kind in ("queue", "menu") and target is None:
        raise SettingsError.at(where, f"a {kind} action needs a target (the {kind} name)")
    if kind not in ("queue", "menu") and target is not None:
        raise SettingsError.at(where, f"a {kind} action takes no target")
    if kind not in MESSAGE_KINDS and message is not None:
        raise SettingsError.at(
            where, f"a {kind} action takes no message (only hangup and voicemail play one)"
        )
    label = fields.optional_text("label")
    if kind == "voicemail":
        low, high = VOICEMAIL_MAX_SEC_LIMITS
        return Action(
            kind,
            None,
            message or VOICEMAIL_GREETING,
            label,
            fields.number("max_message_sec", VOICEMAIL_MAX_SEC, low, high),
        )
    if "max_message_sec" in obj:
        raise SettingsError.at(
            where, f"a {kind} action takes no max_message_sec (only voicemail records a message)"
        )
    return Action(kind, target, message, label)


def _read_queue(obj: Any, where: str) -> Queue:
    fields = Fields(obj, where, *keys_of(QueueDoc))
    name = fields.text("name")
    overflow = {
        key: HANG_UP
        if obj.get(key) is None
        else _read_action(obj[key], f"{where}, {key}", OVERFLOW_KINDS)
        for key in OVERFLOW_WHEN
    }
    setup = None if obj.get("setup") is None else _read_setup(obj["setup"], f"{where}, setup")
    callbacks = (
        QueueCallbacks()
        if obj.get("callbacks") is None
        else read_callbacks(obj["callbacks"], f"{where}, callbacks")
    )
    return Queue(
        name,
        fields.optional_text("title") or name,
        fields.number("max_wait_sec", 120, 1),
        fields.number("service_level_sec", 20, 0),
        **overflow,
        setup=setup,
        callbacks=callbacks,
        callback_offer=read_offer(obj.get("callback_offer"), f"{where}, callback_offer"),
    )


def read_callbacks(obj: Any, where: str) -> QueueCallbacks:
    """A queue's callback settings from its document part (SettingsError names the field)."""
    fields = Fields(obj, where, *keys_of(QueueCallbacksDoc))
    default = QueueCallbacks()
    steps = fields.items("retry_schedule") if "retry_schedule" in obj else default.retry_schedule
    for step in steps:
        if not isinstance(step, str) or not (step == NEXT_WORKING_DAY or RETRY_STEP.match(step)):
            raise SettingsError.at(
                where,
                f"retry step {describe(step)} should be like +15m, +2h, +1d "
                f"or {NEXT_WORKING_DAY!r}",
            )
    mode = fields.optional_text("mode") or default.mode
    if mode not in CALLBACK_MODES:
        raise SettingsError.at(where, f"mode {mode!r} should be one of {', '.join(CALLBACK_MODES)}")
    return QueueCallbacks(
        tuple(steps),
        fields.number("max_attempts", default.max_attempts, 1, 20),
        fields.number("short_abandon_sec", default.short_abandon_sec, 0, 600),
        mode,
        fields.optional_text("schedule"),
        _caller_id(fields.optional_text("caller_id"), where),
    )


def _caller_id(value: str | None, where: str) -> str | None:
    if value is not None and not re.fullmatch(r"\+?[0-9]{3,15}", value):
        raise SettingsError.at(where, f"caller_id {value!r} should be a phone number")
    return value


def _read_setup(obj: Any, where: str) -> QueueSetup:
    fields = Fields(obj, where, *keys_of(QueueSetupDoc))
    strategy = fields.optional_text("strategy") or "rrmemory"
    if strategy not in STRATEGIES:
        raise SettingsError.at(
            where, f"strategy {strategy!r} should be one of {', '.join(STRATEGIES)}"
        )
    members: dict[str, Member] = {}
    for index, item in enumerate(fields.items("members")):
        member = Fields(item, f"{where}, members[{index}]", *keys_of(MemberDoc))
        login = member.text("login")
        if login in members:
            raise SettingsError.at(where, f"operator {login} is listed twice")
        members[login] = Member(login, member.number("penalty", 0, 0))
    return QueueSetup(
        strategy,
        fields.number("ring_timeout_sec", 15, 1),
        fields.number("wrapup_sec", 0, 0),
        fields.optional_number("retention_days", 1),
        tuple(members.values()),
        **{name: fields.number(name, *limits) for name, limits in FLOOR_FIELDS.items()},
    )


def _read_menu(obj: Any, where: str) -> Menu:
    fields = Fields(obj, where, *keys_of(MenuDoc))
    options: dict[str, Action] = {}
    for index, item in enumerate(fields.items("options")):
        place = f"{where}, options[{index}]"
        option = Fields(item, place, *keys_of(OptionDoc))
        digit = option.text("digit")
        if digit not in MENU_DIGITS:
            raise SettingsError.at(place, f"digit {digit!r} should be one of 0-9, * or #")
        options.setdefault(
            digit, _read_action(item["action"], f"{where}, option {digit}", OPTION_KINDS)
        )
    return Menu(
        name=fields.text("name"),
        prompt=fields.text("prompt"),
        default=_read_action(obj["default"], f"{where}, default", DEFAULT_KINDS),
        options=options,
        timeout_sec=fields.number("timeout_sec", 5, 1),
        retries=fields.number("retries", 2, 0),
        timeout_prompt=fields.optional_text("timeout_prompt"),
        invalid_prompt=fields.optional_text("invalid_prompt"),
    )


def _read_ranges(items: Any, where: str) -> tuple[TimeRange, ...]:
    if not isinstance(items, list):
        raise SettingsError.at(where, f'expected a list of "HH:MM-HH:MM", got {describe(items)}')
    try:
        return tuple(parse_range(item) for item in items)
    except ValueError as exc:
        raise SettingsError.at(where, str(exc)) from None


def _read_schedule(obj: Any, where: str) -> Schedule:
    fields = Fields(obj, where, *keys_of(ScheduleDoc))
    timezone = fields.text("timezone")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError.at(
            where, f"unknown time zone {timezone!r} (use an IANA name like Europe/Moscow)"
        ) from None
    weekly = fields.mapping("weekly")
    for weekday in weekly:
        if weekday not in WEEKDAYS:
            raise SettingsError.at(
                f"{where}, weekly", f"unknown day {weekday!r} (use {', '.join(WEEKDAYS)})"
            )
    holidays = []
    for index, item in enumerate(fields.items("holidays")):
        holiday = Fields(item, f"{where}, holidays[{index}]", *keys_of(HolidayDoc))
        holidays.append(Holiday(holiday.when("date"), holiday.optional_text("name")))
    exceptions: dict[date, DayException] = {}
    for index, item in enumerate(fields.items("exceptions")):
        exception = Fields(item, f"{where}, exceptions[{index}]", *keys_of(ExceptionDoc))
        day = exception.when("date")
        ranges = _read_ranges(exception.items("ranges"), f"{where}, exception {day}")
        exceptions.setdefault(day, DayException(day, ranges, exception.optional_text("name")))
    return Schedule(
        name=fields.text("name"),
        timezone=timezone,
        closed_action=_read_action(obj["closed_action"], f"{where}, closed_action", CLOSED_KINDS),
        weekly=tuple(
            _read_ranges(weekly.get(day, []), f"{where}, weekly {day}") for day in WEEKDAYS
        ),
        holidays=tuple(holidays),
        exceptions=exceptions,
        override=_read_override(obj.get("override"), f"{where}, override"),
    )


def _read_override(obj: Any, where: str) -> Override | None:
    if obj is None:
        return None
    fields = Fields(obj, where, *keys_of(OverrideDoc))
    state = fields.text("state")
    if state not in OVERRIDE_STATES:
        raise SettingsError.at(where, f"state {state!r} should be open or closed")
    until_text = fields.optional_text("until")
    if until_text is None:
        return Override(state)
    try:
        until = datetime.fromisoformat(until_text)
    except ValueError:
        raise SettingsError.at(
            where, f"until {until_text!r} should be a time like 2026-06-01T09:00:00+03:00"
        ) from None
    if until.utcoffset() is None:
        raise SettingsError.at(
            where, f"until {until_text!r} needs a UTC offset, like 2026-06-01T09:00:00+03:00"
        )
    return Override(state, until)


def _read_did(obj: Any, where: str) -> Did:
    fields = Fields(obj, where, *keys_of(DidDoc))
    number = fields.text("number")
    if not any(char.isdigit() for char in number):
        raise SettingsError.at(where, f"number {number!r} has no digits")
    return Did(
        number=number,
        entry=_read_action(obj["entry"], f"{where}, entry", ENTRY_KINDS),
        source=fields.optional_text("source"),
        city=fields.optional_text("city"),
        schedule=fields.optional_text("schedule"),
        active=fields.flag("active", True),
    )


def _read_duplicates(pieces: Mapping[str, list[Any]]) -> list[Problem]:
    """Digits and exception dates given twice in a well-formed document."""
    problems = []
    for menu in pieces["menus"]:
        seen: set[str] = set()
        for option in menu.get("options", []):
            if option["digit"] in seen:
                problems.append(
                    Problem(
                        f"menu {menu['name']}, option {option['digit']}",
                        f"digit {option['digit']} is used twice",
                    )
                )
            seen.add(option["digit"])
    for schedule in pieces["schedules"]:
        days: set[str] = set()
        for exception in schedule.get("exceptions", []):
            day = date.fromisoformat(exception["date"]).isoformat()
            if day in days:
                problems.append(
                    Problem(
                        f"schedule {schedule['name']}, exception {day}",
                        f"date {day} has two exceptions",
                    )
                )
            days.add(day)
    return problems


def _dump_action(action: Action) -> ActionDoc:
    doc: ActionDoc = {"kind": action.kind}
    if action.kind in ("queue", "menu"):
        doc["target"] = action.target
    if action.kind == "hangup":
        doc["message"] = action.message
    if action.kind == "voicemail":
        doc["message"] = action.message or VOICEMAIL_GREETING
        doc["max_message_sec"] = action.max_message_sec or VOICEMAIL_MAX_SEC
    if action.label is not None:
        doc["label"] = action.label
    return doc


def _dump_queue(queue: Queue) -> QueueDoc:
    doc: QueueDoc = {
        "name": queue.name,
        "title": queue.title,
        "max_wait_sec": queue.max_wait_sec,
        "service_level_sec": queue.service_level_sec,
        "when_empty": _dump_action(queue.when_empty),
        "when_timeout": _dump_action(queue.when_timeout),
    }
    if queue.setup is not None:  # only when kept, so older versions read back the same
        doc["setup"] = _dump_setup(queue.setup)
    if queue.callbacks != QueueCallbacks():  # likewise: only when set
        doc["callbacks"] = dump_callbacks(queue.callbacks)
    if queue.callback_offer.on:  # only when on, so older versions read back the same
        doc["callback_offer"] = dump_offer(queue.callback_offer)
    return doc


def dump_callbacks(callbacks: QueueCallbacks) -> QueueCallbacksDoc:
    """A queue's callback settings as its document part (and `queues.callbacks`)."""
    return {
        "retry_schedule": list(callbacks.retry_schedule),
        "max_attempts": callbacks.max_attempts,
        "short_abandon_sec": callbacks.short_abandon_sec,
        "mode": callbacks.mode,
        "schedule": callbacks.schedule,
        "caller_id": callbacks.caller_id,
    }


def _dump_setup(setup: QueueSetup) -> QueueSetupDoc:
    return {
        "strategy": setup.strategy,
        "ring_timeout_sec": setup.ring_timeout_sec,
        "wrapup_sec": setup.wrapup_sec,
        "retention_days": setup.retention_days,
        "members": [{"login": m.login, "penalty": m.penalty} for m in setup.members],
        "wrapup_hold_sec": setup.wrapup_hold_sec,
        "missed_rings_pause": setup.missed_rings_pause,
        "max_wait_alert_sec": setup.max_wait_alert_sec,
        "service_level_target_pct": setup.service_level_target_pct,
    }


def _dump_menu(menu: Menu) -> MenuDoc:
    return {
        "name": menu.name,
        "prompt": menu.prompt,
        "options": [
            {"digit": digit, "action": _dump_action(action)}
            for digit, action in menu.options.items()
        ],
        "timeout_sec": menu.timeout_sec,
        "retries": menu.retries,
        "timeout_prompt": menu.timeout_prompt,
        "invalid_prompt": menu.invalid_prompt,
        "default": _dump_action(menu.default),
    }


def _dump_schedule(schedule: Schedule) -> ScheduleDoc:
    override = schedule.override
    return {
        "name": schedule.name,
        "timezone": schedule.timezone,
        "weekly": {
            day: [str(r) for r in ranges]
            for day, ranges in zip(WEEKDAYS, schedule.weekly, strict=True)
        },
        "holidays": [{"date": h.date.isoformat(), "name": h.name} for h in schedule.holidays],
        "exceptions": [
            {"date": e.date.isoformat(), "ranges": [str(r) for r in e.ranges], "name": e.name}
            for e in schedule.exceptions.values()
        ],
        "override": None
        if override is None
        else {
            "state": override.state,
            "until": None if override.until is None else override.until.isoformat(),
        },
        "closed_action": _dump_action(schedule.closed_action),
    }


def _dump_did(did: Did) -> DidDoc:
    return {
        "number": did.number,
        "entry": _dump_action(did.entry),
        "source": did.source,
        "city": did.city,
        "schedule": did.schedule,
        "active": did.active,
    }
