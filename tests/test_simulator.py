"""`callcards route`: the admin's simulator reads the published flow and shows each step."""

from __future__ import annotations

import json

from sqlalchemy import select, update

from callcards.cli import main
from callcards.simulator import run_simulation
from dialplan.explain import parse_keys
from models.routing import Schedule


def test_keys_text_gives_one_answer_per_prompt_with_blanks_as_silence() -> None:
    assert parse_keys("9,,1") == ["9", None, "1"]
    assert parse_keys("") == []


def test_invalid_key_then_silence_then_1_ends_in_appointments(sessions) -> None:
    with sessions() as session:
        text = run_simulation(
            session,
            did="74951234567",
            caller="+79161234567",
            when="2026-11-24T12:00",
            keys="9,,1",
            draft=False,
            as_json=False,
        )
    lines = text.splitlines()
    assert lines[0].startswith("call flow: version ")
    assert "hours: open (weekly)" in lines
    assert sum(line.startswith("menu main") for line in lines) == 3
    assert lines[-2] == "=> queue appointments (wait up to 120 s) [ivr]"
    assert lines[-1] == "IVR path: main > 9:invalid > timeout > 1"


def test_sunday_call_is_told_closed_hours(sessions) -> None:
    with sessions() as session:
        result = json.loads(
            run_simulation(
                session,
                did="+7 (495) 123-45-67",
                caller="",
                when="2026-11-22T12:00",
                keys="",
                draft=True,
                as_json=True,
            )
        )
    assert result["flow"] == "draft"
    assert result["decision"] == {"action": "hangup", "queue": None, "reason": "closed_hours"}
    assert "closed_hours" in [event["kind"] for event in result["events"]]


def test_sunday_call_to_a_voicemail_clinic_shows_the_greeting_and_the_message(sessions) -> None:
    clinic = update(Schedule).where(Schedule.name == "clinic")
    with sessions.begin() as session:
        before = session.scalar(select(Schedule.closed_action).where(Schedule.name == "clinic"))
        session.execute(
            clinic.values(
                closed_action={"kind": "voicemail", "message": "vm-intro", "max_message_sec": 90}
            )
        )
    try:
        with sessions() as session:
            lines = run_simulation(
                session,
                did="74951234567",
                caller="",
                when="2026-11-22T12:00",
                keys="",
                draft=True,
                as_json=False,
            ).splitlines()
            result = json.loads(
                run_simulation(
                    session,
                    did="74951234567",
                    caller="",
                    when="2026-11-22T12:00",
                    keys="",
                    draft=True,
                    as_json=True,
                )
            )
    finally:
        with sessions.begin() as session:
            session.execute(clinic.values(closed_action=before))
    assert lines[-3:] == [
        "play vm-intro",
        "=> beep, record a message of up to 90 s, hang up [closed_hours_voicemail]",
        "IVR path: -",
    ]
    assert result["decision"] == {
        "action": "voicemail",
        "queue": None,
        "reason": "closed_hours_voicemail",
        "max_message_sec": 90,
    }


def test_command_line_prints_the_path(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["route", "--did", "74951234567", "--at", "2026-11-24T12:00", "--keys", "3"]) == 0
    assert "=> queue reception" in capsys.readouterr().out


def test_command_line_follows_the_queues_overflow(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert (
        main(
            [
                "route",
                "--did",
                "74951234567",
                "--at",
                "2026-11-24T12:00",
                "--keys",
                "1",
                "--queues",
                "empty, timeout",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    assert "queue appointments gives the call back: empty (JOINEMPTY)" in out
    assert "=> queue reception (wait up to 120 s) [overflow_empty]" in out
    assert out[-3:] == [
        "=> hang up [overflow_timeout]",
        "IVR path: main > 1",
        "queues: appointments > reception",
    ]


def test_command_line_refuses_an_unknown_queue_outcome(database_url, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert (
        main(
            [
                "route",
                "--did",
                "74951234567",
                "--at",
                "2026-11-24T12:00",
                "--keys",
                "1",
                "--queues",
                "busy",
            ]
        )
        == 2
    )
    assert "queue outcome 'busy' should be one of answered, empty, timeout" in (
        capsys.readouterr().err
    )
