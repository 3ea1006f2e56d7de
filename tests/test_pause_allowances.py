"""CALLCARDS_PAUSE_ALLOWANCES: "reason=minutes" pairs, read once; anything else stops the start."""

from __future__ import annotations

import pytest

from callcards.config import load_settings


def test_allowances_are_read_as_reason_and_minutes() -> None:
    settings = load_settings({"CALLCARDS_PAUSE_ALLOWANCES": " lunch=60, break=20 ,"})
    assert settings.pause_allowances == (("lunch", 60), ("break", 20))
    assert load_settings({}).pause_allowances == ()


@pytest.mark.parametrize("value", ["lunch", "lunch=", "=60", "lunch=-5", "lunch=６０", "lunch=1h"])
def test_a_malformed_allowance_is_refused_with_its_name(value: str) -> None:
    with pytest.raises(ValueError, match="CALLCARDS_PAUSE_ALLOWANCES"):
        load_settings({"CALLCARDS_PAUSE_ALLOWANCES": value})
