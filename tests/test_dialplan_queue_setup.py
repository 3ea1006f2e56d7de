"""A queue's Asterisk setup in the flow document: read, written back, refused when wrong."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dialplan import FlowSettings, SettingsError
from dialplan.demo import demo_document
from dialplan.settings import Member, QueueSetup


def with_setup(setup: dict[str, Any] | None) -> dict[str, Any]:
    doc = demo_document()
    doc["queues"][1]["setup"] = setup
    return doc


def test_the_setup_is_read_and_written_back() -> None:
    doc = with_setup(
        {
            "strategy": "ringall",
            "ring_timeout_sec": 20,
            "wrapup_sec": 5,
            "retention_days": 90,
            "members": [{"login": "operator1", "penalty": 2}, {"login": "operator2"}],
        }
    )
    settings = FlowSettings.from_document(doc)
    assert settings.queues["reception"].setup == QueueSetup(
        "ringall", 20, 5, 90, (Member("operator1", 2), Member("operator2", 0))
    )
    assert FlowSettings.from_document(settings.to_document()) == settings
    assert settings.to_document()["queues"][1]["setup"]["members"][1] == {
        "login": "operator2",
        "penalty": 0,
    }


def test_a_version_without_a_setup_reads_and_writes_back_without_one() -> None:
    settings = FlowSettings.from_document(with_setup(None))
    assert settings.queues["reception"].setup is None
    assert "setup" not in settings.to_document()["queues"][1]


def test_defaults_fill_an_empty_setup() -> None:
    setup = FlowSettings.from_document(with_setup({})).queues["reception"].setup
    assert setup == QueueSetup("rrmemory", 15, 0, None, ())


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (
            {"strategy": "loudest"},
            "queue reception, setup: strategy 'loudest' should be one of rrmemory, ringall",
        ),
        ({"ring_timeout_sec": 0}, "queue reception, setup: ring_timeout_sec should be at least 1"),
        ({"retention_days": 0}, "queue reception, setup: retention_days should be at least 1"),
        (
            {"members": [{"login": "a"}, {"login": "a", "penalty": 1}]},
            "queue reception, setup: operator a is listed twice",
        ),
        (
            {"members": [{"login": "a", "penalty": -1}]},
            "queue reception, setup, members[0]: penalty should be at least 0",
        ),
        (
            {"members": [{"extension": "101"}]},
            "queue reception, setup, members[0]: unknown field 'extension'",
        ),
    ],
)
def test_a_wrong_setup_is_refused_naming_its_place(setup: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(message)):
        FlowSettings.from_document(with_setup(setup))
