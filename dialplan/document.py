"""Reading a JSON-able document field by field, every error naming its place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, TypedDict, cast


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the settings, and where."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SettingsError(ValueError):
    """A settings document that cannot be read; the message says where and why."""

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = tuple(problems)

    @classmethod
    def at(cls, where: str, message: str) -> SettingsError:
        """The error for one problem at one place."""
        problem = Problem(where, message)
        return cls(str(problem), [problem])


MISSING: Any = object()  # no default: the field is required


def describe(value: Any) -> str:
    """How a value looks to a person: an object, a list, text..."""
    names = {
        dict: "an object",
        list: "a list",
        str: "text",
        bool: "true/false",
        int: "a number",
        float: "a decimal number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


class Fields:
    """One object of a document, read field by field, each error naming its place."""

    def __init__(
        self, obj: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> None:
        if not isinstance(obj, Mapping):
            raise SettingsError.at(where, f"expected an object, got {describe(obj)}")
        unknown = [key for key in obj if key not in required and key not in optional]
        if unknown:
            allowed = ", ".join(required + optional)
            raise SettingsError.at(where, f"unknown field {unknown[0]!r} (fields: {allowed})")
        missing = [key for key in required if key not in obj]
        if missing:
            raise SettingsError.at(where, f"{missing[0]} is missing")
        self.obj, self.where = obj, where

    def _get(self, key: str, default: Any, kinds: tuple[type, ...], what: str) -> Any:
        value = self.obj.get(key, default)
        if value is MISSING:
            raise SettingsError.at(self.where, f"{key} is missing")
        if value is None and default is None:
            return None
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise SettingsError.at(self.where, f"{key} should be {what}, got {describe(value)}")
        return value

    def text(self, key: str) -> str:
        """A required, non-empty text field."""
        value: str = self._get(key, MISSING, (str,), "text")
        if value == "":
            raise SettingsError.at(self.where, f"{key} is empty")
        return value

    def optional_text(self, key: str) -> str | None:
        """A text field that may be missing, null or empty (all read as None)."""
        value: str | None = self._get(key, None, (str,), "text")
        return value or None

    def number(self, key: str, default: int, minimum: int, maximum: int | None = None) -> int:
        """A whole number of at least `minimum` (and at most `maximum`, when given)."""
        value: int = self._get(key, default, (int,), "a whole number")
        if value < minimum:
            raise SettingsError.at(self.where, f"{key} should be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingsError.at(self.where, f"{key} should be at most {maximum}, got {value}")
        return value

    def optional_number(self, key: str, minimum: int) -> int | None:
        """A whole number of at least `minimum`, or None when missing or null."""
        if self.obj.get(key) is None:
            return None
        return self.number(key, minimum, minimum)

    def flag(self, key: str, default: bool) -> bool:
        """A true/false field."""
        value: bool = self._get(key, default, (bool,), "true or false")
        return value

    def items(self, key: str) -> list[Any]:
        """A list field, [] when missing."""
        value: list[Any] = self._get(key, [], (list,), "a list")
        return value

    def mapping(self, key: str) -> Mapping[str, Any]:
        """An object field, {} when missing."""
        value: Mapping[str, Any] = self._get(key, {}, (Mapping,), "an object")
        return value

    def when(self, key: str) -> date:
        """A required date field, "YYYY-MM-DD"."""
        value = self.text(key)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise SettingsError.at(
                self.where, f"{key} {value!r} should be a date like 2026-01-01"
            ) from None


# -- the call-flow document's shape (dialplan.settings documents each field) ------------------
# One definition, used where the document is built (models.flow), read (dialplan.settings)
# and compared (webadmin.callflow.diff). Each part is a base of its required keys and a
# total=False subclass of its optional ones, so the keys can be read back at run time
# (`keys_of`) for the reader's "unknown field" and "is missing" checks.


class _ActionRequired(TypedDict):
    kind: str


class ActionDoc(_ActionRequired, total=False):
    """An action: queue, menu, hangup, repeat, back or voicemail, with what it needs."""

    target: str | None
    message: str | None
    label: str | None
    max_message_sec: int | None


class _MemberRequired(TypedDict):
    login: str


class MemberDoc(_MemberRequired, total=False):
    """A queue member by staff login, with a penalty."""

    penalty: int


#: The live floor's queue fields: name -> (default, lowest, highest). The document, the
#: admin's form and the stored queue all take them from here.
FLOOR_FIELDS: dict[str, tuple[int, int, int]] = {
    "wrapup_hold_sec": (0, 0, 3600),  # operator held out until the card is done (0: never)
    "missed_rings_pause": (0, 0, 100),  # rings missed in a row before a pause (0: never)
    "max_wait_alert_sec": (60, 1, 7200),  # the wallboard's longest acceptable wait
    "service_level_target_pct": (80, 0, 100),  # the wallboard's service-level target
}


class QueueSetupDoc(TypedDict, total=False):
    """How Asterisk rings a queue's operators (versions since the setup was kept)."""

    strategy: str | None
    ring_timeout_sec: int
    wrapup_sec: int
    retention_days: int | None
    members: list[MemberDoc]
    # The live floor (versions since they were kept; older ones read the defaults).
    wrapup_hold_sec: int
    missed_rings_pause: int
    max_wait_alert_sec: int
    service_level_target_pct: int


class CallbackOfferDoc(TypedDict, total=False):
    """Virtual hold: when a waiting caller is offered a callback (dialplan.virtual_hold)."""

    after_sec: int
    key: str
    repeat_sec: int
    prompt: str


class QueueCallbacksDoc(TypedDict, total=False):
    """A queue's callback tasks: retries, attempts, short abandons, mode (callbacks/)."""

    retry_schedule: list[str]
    max_attempts: int
    short_abandon_sec: int
    mode: str
    schedule: str | None
    caller_id: str | None


class _QueueRequired(TypedDict):
    name: str


class QueueDoc(_QueueRequired, total=False):
    """A queue, its overflow and its Asterisk setup."""

    title: str | None
    max_wait_sec: int
    service_level_sec: int
    when_empty: ActionDoc | None
    when_timeout: ActionDoc | None
    setup: QueueSetupDoc | None
    callbacks: QueueCallbacksDoc | None
    callback_offer: CallbackOfferDoc | None


class OptionDoc(TypedDict):
    """A menu key and what it does."""

    digit: str
    action: ActionDoc


class _MenuRequired(TypedDict):
    name: str
    prompt: str
    default: ActionDoc


class MenuDoc(_MenuRequired, total=False):
    """An IVR menu."""

    options: list[OptionDoc]
    timeout_sec: int
    retries: int
    timeout_prompt: str | None
    invalid_prompt: str | None


class _DayRequired(TypedDict):
    date: str


class HolidayDoc(_DayRequired, total=False):
    """A day closed all day."""

    name: str | None


class ExceptionDoc(_DayRequired, total=False):
    """A day with hours of its own ([] ranges: closed)."""

    ranges: list[str]
    name: str | None


class _OverrideRequired(TypedDict):
    state: str


class OverrideDoc(_OverrideRequired, total=False):
    """Open or closed by hand, until a moment or for good."""

    until: str | None


class _ScheduleRequired(TypedDict):
    name: str
    timezone: str
    closed_action: ActionDoc


class ScheduleDoc(_ScheduleRequired, total=False):
    """Business hours."""

    weekly: dict[str, list[str]]
    holidays: list[HolidayDoc]
    exceptions: list[ExceptionDoc]
    override: OverrideDoc | None


class _DidRequired(TypedDict):
    number: str
    entry: ActionDoc


class DidDoc(_DidRequired, total=False):
    """A dialled number and where its calls go."""

    source: str | None
    city: str | None
    schedule: str | None
    active: bool


class _FlowRequired(TypedDict):
    default_queue: str


class FlowDocument(_FlowRequired, total=False):
    """The whole call flow: what a version stores and routing reads."""

    queues: list[QueueDoc]
    menus: list[MenuDoc]
    schedules: list[ScheduleDoc]
    dids: list[DidDoc]
    recording_announcement: str | None


#: The document's lists: the key, the part each item is (as a person reads it), and the key
#: that names an item.
SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("queues", "queue", "name"),
    ("menus", "menu", "name"),
    ("schedules", "schedule", "name"),
    ("dids", "DID", "number"),
)


def keys_of(shape: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A part's required keys and optional keys, in the order the shape lists them."""
    names = tuple(shape.__annotations__)
    required: frozenset[str] = shape.__required_keys__
    return (
        tuple(name for name in names if name in required),
        tuple(name for name in names if name not in required),
    )


def stored_document(stored: Mapping[str, Any]) -> FlowDocument:
    """A document as stored (a version's JSON): the shape draft_document wrote, which
    FlowSettings.from_document checks field by field when it reads it."""
    return cast(FlowDocument, stored)
