"""The recording announcement: every caller hears it first, whatever the route."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dialplan import Collect, Decision, FlowSettings, Play, simulate, validate
from dialplan.demo import DEMO_DID, demo_document

OPEN = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))  # a Monday morning
SUNDAY = datetime(2026, 3, 1, 10, 0, tzinfo=ZoneInfo("Europe/Moscow"))


def announced(prompt: str = "callcards/recorded") -> FlowSettings:
    return FlowSettings.from_document({**demo_document(), "recording_announcement": prompt})


def test_the_announcement_is_read_and_written_back() -> None:
    document = {**demo_document(), "recording_announcement": "callcards/recorded"}
    assert FlowSettings.from_document(document).to_document() == document


def test_a_flow_without_an_announcement_has_none() -> None:
    settings = FlowSettings.from_document(demo_document())
    assert settings.recording_announcement is None
    assert "recording_announcement" not in settings.to_document()


def test_the_caller_hears_the_announcement_before_the_menu() -> None:
    call = simulate(announced(), DEMO_DID, "+79161234567", OPEN, ["1"])
    assert call.steps[0] == Play("callcards/recorded")
    assert isinstance(call.steps[1], Collect) and call.steps[1].menu == "main"
    assert call.decision.queue == "appointments"


def test_the_announcement_plays_on_closed_hours_and_unknown_numbers_too() -> None:
    closed = simulate(announced(), DEMO_DID, "", SUNDAY)
    assert closed.steps[0] == Play("callcards/recorded")
    assert closed.decision.action == "hangup"
    unknown = simulate(announced(), "70000000000", "", OPEN)
    assert unknown.steps == [Play("callcards/recorded"), unknown.decision]
    assert isinstance(unknown.decision, Decision) and unknown.decision.reason == "unknown_did"


def test_a_missing_announcement_prompt_is_reported() -> None:
    problems = validate(
        announced("callcards/never-uploaded"),
        known_prompts={"hello", "im-sorry", "please-try-again", "vm-goodbye"},
    )
    assert [(p.where, p.message) for p in problems] == [
        (
            "recording_announcement",
            "prompt 'callcards/never-uploaded' is not among the sound files",
        )
    ]
