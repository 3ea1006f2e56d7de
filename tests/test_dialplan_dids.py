"""Finding the DID a call came in on, whatever form the trunk wrote the number in."""

from __future__ import annotations

from typing import Any

import pytest

from dialplan.demo import demo_document
from dialplan.dids import number_digits, resolve_did
from dialplan.settings import Action, FlowSettings


def settings_with_dids(*dids: dict[str, Any]) -> FlowSettings:
    """The demo clinic with its DIDs replaced."""
    doc = demo_document()
    doc["dids"] = list(dids)
    return FlowSettings.from_document(doc)


def did(number: str, **fields: Any) -> dict[str, Any]:
    """A DID document entering the main menu."""
    return {"number": number, "entry": {"kind": "menu", "target": "main"}, **fields}


def test_number_digits_drops_plus_spaces_dashes_and_brackets() -> None:
    """Only digits are compared."""
    assert number_digits("+7 (495) 123-45-67") == "74951234567"


def test_exact_number_is_known() -> None:
    """The demo DID, as the trunk sends it."""
    match = resolve_did(FlowSettings.from_document(demo_document()), "74951234567")
    assert match.known and match.match == "exact"
    assert match.entry == Action("menu", "main")
    assert (match.source, match.city) == ("Яндекс.Директ", "Москва")


@pytest.mark.parametrize("dialed", ["+74951234567", "+7 (495) 123-45-67", "7-495-123-45-67"])
def test_plus_seven_with_spaces_and_dashes_matches_exactly(dialed: str) -> None:
    """Formatting characters do not matter."""
    match = resolve_did(FlowSettings.from_document(demo_document()), dialed)
    assert (match.known, match.match, match.digits) == (True, "exact", "74951234567")


@pytest.mark.parametrize("dialed", ["84951234567", "8 (495) 123-45-67", "4951234567"])
def test_eight_prefix_or_ten_digits_match_by_the_last_ten_digits(dialed: str) -> None:
    """8 495... and 495... are the same Moscow number as 7 495..."""
    match = resolve_did(FlowSettings.from_document(demo_document()), dialed)
    assert (match.known, match.match) == (True, "last_digits")
    assert match.did is not None and match.did.number == "74951234567"


def test_did_stored_with_formatting_matches_plain_digits() -> None:
    """The DID may be written as a person would; the dialled digits still find it."""
    settings = settings_with_dids(did("+7 (495) 765-43-21"))
    assert resolve_did(settings, "74957654321").match == "exact"


def test_exact_match_wins_over_the_last_ten_digits() -> None:
    """Two DIDs sharing the last 10 digits: the exactly dialled one is chosen."""
    settings = settings_with_dids(
        did("74951234567", source="seven"), did("84951234567", source="eight")
    )
    assert resolve_did(settings, "84951234567").source == "eight"
    assert resolve_did(settings, "+7 495 123 45 67").source == "seven"


def test_short_internal_numbers_need_an_exact_match() -> None:
    """Numbers shorter than 10 digits are compared whole."""
    settings = settings_with_dids(did("1234"))
    assert resolve_did(settings, "1234").known
    assert not resolve_did(settings, "01234").known


def test_unknown_number_enters_the_default_queue() -> None:
    """A number no DID owns goes to the default queue, marked unknown."""
    match = resolve_did(FlowSettings.from_document(demo_document()), "+7 812 000-00-00")
    assert (match.known, match.match, match.did) == (False, "unknown", None)
    assert match.entry == Action("queue", "reception")
    assert match.source is None


def test_empty_dialed_number_is_unknown() -> None:
    """No digits at all matches nothing."""
    match = resolve_did(FlowSettings.from_document(demo_document()), "")
    assert (match.known, match.match) == (False, "unknown")


def test_inactive_did_routes_like_an_unknown_one() -> None:
    """A switched-off DID goes to the default queue, but the match still names it."""
    settings = settings_with_dids(did("74951234567", active=False, source="old ad"))
    match = resolve_did(settings, "74951234567")
    assert (match.known, match.match) == (False, "inactive")
    assert match.did is not None and match.did.number == "74951234567"
    assert match.entry == Action("queue", "reception")
    assert match.source is None


def test_active_did_by_last_digits_wins_over_an_inactive_exact_one() -> None:
    """An active DID is preferred to an inactive one that matches more exactly."""
    settings = settings_with_dids(
        did("84951234567", active=False), did("74951234567", source="live")
    )
    match = resolve_did(settings, "84951234567")
    assert (match.known, match.match, match.source) == (True, "last_digits", "live")
