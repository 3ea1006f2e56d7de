"""The generated queues file: what each queue and operator becomes, and reading it back."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from callcards.demo import seed_demo
from callcards.sandbox.conf import ConfFile
from callcards.sandbox.render import TEST_MEMBER_INTERFACE, _generated_queues_conf
from models import migrate
from models.session import make_engine, make_session_factory, transaction
from pbx.apply import queue_specs
from pbx.queues_conf import (
    MEMBER_NAME_BYTES,
    QUEUES_INCLUDE,
    ExpectedMember,
    MemberSpec,
    QueueSpec,
    expected_queues,
    member_name,
    render_queues,
)
from tests.conftest import create_database, drop_database

ETC_ASTERISK = Path(__file__).resolve().parent.parent / "etc_asterisk"

APPOINTMENTS = QueueSpec(
    name="appointments",
    title="Запись на приём",
    strategy="ringall",
    ring_timeout_sec=12,
    wrapup_sec=7,
    service_level_sec=25,
    members=(
        MemberSpec("103", "Пётр Третьяков", 2),
        MemberSpec("101", "Ольга Операторова", 0),
        MemberSpec("102", "Иван Петров", 0),
    ),
)


def section(text: str, name: str) -> list[str]:
    """The lines of one section of a rendered file (comments and blanks dropped)."""
    found = ConfFile.parse(text).section(name)
    return [line for line in found.lines if line.strip() and not line.startswith(";")]


def test_queue_section_carries_the_admins_settings_and_members_by_penalty() -> None:
    text = render_queues([APPOINTMENTS])

    assert "[appointments](cc-queue)\n; Запись на приём\n" in text
    assert section(text, "appointments") == [
        "strategy = ringall",
        "timeout = 12",
        "wrapuptime = 7",
        "servicelevel = 25",
        "joinempty = paused,penalty,invalid,unavailable",
        "leavewhenempty = paused,penalty,invalid,unavailable",
        "member => PJSIP/101,0,Ольга Операторова",
        "member => PJSIP/102,0,Иван Петров",
        "member => PJSIP/103,2,Пётр Третьяков",
    ]


def test_waiting_when_nobody_is_free_turns_joinempty_off() -> None:
    text = render_queues([QueueSpec(name="reception", when_empty="wait")])

    assert "joinempty = no" in section(text, "reception")
    assert "leavewhenempty = no" in section(text, "reception")


def test_sandbox_members_are_local_channels_into_the_test_operators() -> None:
    text = render_queues([APPOINTMENTS], TEST_MEMBER_INTERFACE)

    assert "member => Local/103@cc-test-operators/n,2,Пётр Третьяков" in text


def test_queue_without_operators_has_no_member_lines() -> None:
    text = render_queues([QueueSpec(name="night")])

    assert not [line for line in section(text, "night") if line.startswith("member")]


def test_same_queues_in_another_order_render_the_same_text() -> None:
    reception = QueueSpec(name="reception", members=(MemberSpec("101", "Ольга"),))
    shuffled = replace(APPOINTMENTS, members=APPOINTMENTS.members[::-1])

    assert render_queues([APPOINTMENTS, reception]) == render_queues([reception, shuffled])


@pytest.mark.parametrize(
    "name", ["general", "General", "", "two words", "a,b", "x;y", "q[1]", "о", "a" * 65]
)
def test_reserved_and_unsafe_queue_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="queue name"):
        render_queues([QueueSpec(name=name)])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"strategy": "roundrobin"}, "strategy 'roundrobin'"),
        ({"when_empty": "sometimes"}, "when_empty"),
        ({"ring_timeout_sec": -1}, "ring timeout -1"),
        ({"members": (MemberSpec("101", "A", -1),)}, "penalty -1"),
        ({"members": (MemberSpec("101", "A"), MemberSpec("101", "B"))}, "given twice"),
        ({"members": (MemberSpec("10 1", "A"),)}, "extension"),
        ({"members": (MemberSpec("101,2", "A"),)}, "extension"),
    ],
)
def test_settings_asterisk_cannot_take_are_refused(change: dict[str, Any], message: str) -> None:
    queue = replace(QueueSpec(name="reception"), **change)

    with pytest.raises(ValueError, match=message):
        render_queues([queue])


def test_interface_template_must_name_the_extension() -> None:
    with pytest.raises(ValueError, match="no {extension}"):
        render_queues([APPOINTMENTS], "PJSIP/operator")


def test_same_queue_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="given twice"):
        render_queues([QueueSpec(name="reception"), QueueSpec(name="Reception")])


def test_member_names_lose_what_would_split_the_member_line() -> None:
    assert member_name('Иванов, Иван; "старший" (смена [1]) \\ ') == ("Иванов Иван старший смена 1")
    assert member_name("  Ольга\n\tОператорова ") == "Ольга Операторова"


def test_long_names_are_cut_on_a_letter_within_what_app_queue_keeps() -> None:
    name = member_name("Константин Константинович Константинопольский-Закавказский")

    assert len(name.encode()) <= MEMBER_NAME_BYTES
    assert "Константин Константинович Константинопольский-Закавказский".startswith(name)
    assert name.encode().decode() == name


def test_reading_back_gives_what_app_queue_should_run() -> None:
    text = render_queues([APPOINTMENTS, QueueSpec(name="night")], TEST_MEMBER_INTERFACE)

    queues = expected_queues(text)

    assert sorted(queues) == ["appointments", "night"]
    assert queues["appointments"].strategy == "ringall"
    assert queues["appointments"].service_level_sec == 25
    assert ExpectedMember("Local/103@cc-test-operators/n", 2, "Пётр Третьяков") in (
        queues["appointments"].members
    )
    assert queues["night"].members == frozenset()


def test_reading_a_hand_written_file_skips_templates_and_names_members_by_interface() -> None:
    text = (
        "[general]\npersistentmembers = no\n[tpl](!)\nstrategy = linear\n"
        "[sales](tpl)\nmember => PJSIP/201\nmember => PJSIP/202,-3 ; old\n"
        '#include "more.conf"\n'
    )

    queues = expected_queues(text)

    assert list(queues) == ["sales"]
    assert queues["sales"].strategy is None
    assert queues["sales"].members == frozenset(
        {ExpectedMember("PJSIP/201", 0, "PJSIP/201"), ExpectedMember("PJSIP/202", 0, "PJSIP/202")}
    )


def test_queues_conf_includes_the_generated_file_last() -> None:
    lines = [line.strip() for line in (ETC_ASTERISK / "queues.conf").read_text().splitlines()]
    settings = [line for line in lines if line and not line.startswith(";")]

    assert settings[-1] == f'#include "{QUEUES_INCLUDE}"'
    # A template strategy would win over each queue's own (see queues.conf).
    assert not [line for line in settings if line.startswith("strategy")]


def test_sandbox_dials_the_generated_members_as_test_operators() -> None:
    conf = ConfFile.parse(render_queues([APPOINTMENTS]).replace("wrapuptime = 7", ""))

    _generated_queues_conf(conf)

    assert section(conf.render(), "appointments")[-4:] == [
        "member => Local/101@cc-test-operators/n,0,Ольга Операторова",
        "member => Local/102@cc-test-operators/n,0,Иван Петров",
        "member => Local/103@cc-test-operators/n,2,Пётр Третьяков",
        "wrapuptime = 0",
    ]


def test_committed_file_is_what_the_demo_data_renders() -> None:
    """A fresh Asterisk has the demo queues before the first apply."""
    name = f"callcards_pbx_demo_{os.getpid()}"
    url = create_database(name)
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with transaction(make_session_factory(engine)) as session:
            seed_demo(session)
        with transaction(make_session_factory(engine)) as session:
            specs, notes = queue_specs(session)
        engine.dispose()
    finally:
        drop_database(name)

    assert notes == []
    assert (ETC_ASTERISK / QUEUES_INCLUDE).read_text() == render_queues(specs)
