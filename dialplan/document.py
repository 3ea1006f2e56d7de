"""Reading a JSON-able document field by field, every error naming its place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any


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
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false",
             int: "a number", float: "a decimal number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


class Fields:
    """One object of a document, read field by field, each error naming its place."""

    def __init__(self, obj: Any, where: str, required: tuple[str, ...],
                 optional: tuple[str, ...] = ()) -> None:
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
            raise SettingsError.at(self.where, f"{key} {value!r} should be a date like "
                                   "2026-01-01") from None
