"""`callcards route`: the admin's simulator reads the published flow and shows each step."""

from __future__ import annotations

import json

from callcards.cli import main
from callcards.simulator import run_simulation
from dialplan.explain import parse_keys


def test_keys_text_gives_one_answer_per_prompt_with_blanks_as_silence() -> None:
    assert parse_keys("9,,1") == ["9", None, "1"]
    assert parse_keys("") == []


def test_invalid_key_then_silence_then_1_ends_in_appointments(sessions) -> None:
    with sessions() as session:
        text = run_simulation(session, did="74951234567", caller="+79161234567",
                              when="2026-11-24T12:00", keys="9,,1", draft=False, as_json=False)
    lines = text.splitlines()
    assert lines[0].startswith("call flow: version ")
    assert "hours: open (weekly)" in lines
    assert sum(line.startswith("menu main") for line in lines) == 3
    assert lines[-2] == "=> queue appointments (wait up to 120 s) [ivr]"
    assert lines[-1] == "IVR path: main > 9:invalid > timeout > 1"


def test_sunday_call_is_told_closed_hours(sessions) -> None:
    with sessions() as session:
        result = json.loads(run_simulation(
            session, did="+7 (495) 123-45-67", caller="", when="2026-11-22T12:00", keys="",
            draft=True, as_json=True,
        ))
    assert result["flow"] == "draft"
    assert result["decision"] == {"action": "hangup", "queue": None, "reason": "closed_hours"}
    assert "closed_hours" in [event["kind"] for event in result["events"]]


def test_command_line_prints_the_path(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["route", "--did", "74951234567", "--at", "2026-11-24T12:00", "--keys", "3"]) == 0
    assert "=> queue reception" in capsys.readouterr().out
