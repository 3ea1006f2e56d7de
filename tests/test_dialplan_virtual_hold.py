"""Virtual hold in the call-flow document, in the generated queues file and in a card's end."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from callcards.config import DEFAULT_OUTBOUND_NUMBERS
from dialplan import FlowSettings
from dialplan.numbers import read_patterns
from dialplan.settings import SettingsError
from dialplan.virtual_hold import CallbackOffer, callback_number
from fastagi.outcome import HangupFacts, classify
from models import Direction, Status
from pbx.queues_conf import QueueSpec, render_queues

ETC_ASTERISK = Path(__file__).resolve().parent.parent / "etc_asterisk"


def flow(offer: Any = None, **queue: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"name": "appointments", **queue}
    if offer is not None:
        item["callback_offer"] = offer
    return {"default_queue": "appointments", "queues": [item]}


def offer_of(document: dict[str, Any]) -> CallbackOffer:
    return FlowSettings.from_document(document).queues["appointments"].callback_offer


def test_a_queue_offers_a_callback_after_its_wait_with_its_key_again_and_again() -> None:
    offer = offer_of(flow({"after_sec": 60, "key": "3", "repeat_sec": 45}))
    assert (offer.on, offer.after_sec, offer.key, offer.repeat_sec) == (True, 60, "3", 45)
    assert offer.sentence() == (
        "after 60 s the caller is offered a callback (press 3; again every 45 s)"
    )
    assert offer_of(flow({"after_sec": 30})) == CallbackOffer(30, "1", 60)  # the defaults
    assert offer_of(flow({"after_sec": 30})).prompt == "callcards/callback-offer"


def test_no_offer_zero_or_null_is_off_and_older_documents_read_back_the_same() -> None:
    for document in (flow(), flow({"after_sec": 0}), flow(None)):
        assert not offer_of(document).on
    assert "callback_offer" not in FlowSettings.from_document(flow()).to_document()["queues"][0]
    on = flow({"after_sec": 60, "key": "1", "repeat_sec": 60})
    assert FlowSettings.from_document(on).to_document()["queues"][0]["callback_offer"] == {
        "after_sec": 60,
        "key": "1",
        "repeat_sec": 60,
        "prompt": "callcards/callback-offer",
    }


@pytest.mark.parametrize(
    ("offer", "message"),
    [
        ({"after_sec": -5}, "after_sec should be at least 0, got -5"),
        ({"after_sec": 86400}, "after_sec should be at most 3600, got 86400"),
        ({"after_sec": 60, "repeat_sec": 1}, "repeat_sec should be at least 10, got 1"),
        ({"after_sec": 60, "repeat_sec": 10**9}, "repeat_sec should be at most 3600"),
        ({"after_sec": 60, "key": "#"}, "key '#' should be one digit, 0-9"),
        ({"after_sec": 60, "key": "12"}, "key '12' should be one digit, 0-9"),
        ({"after_sec": 60, "key": 1}, "key should be text, got a number"),
        ({"after_sec": "60"}, "after_sec should be a whole number, got text"),
        ({"after_sec": 60, "voice": "x"}, "unknown field 'voice'"),
        ("soon", "expected an object, got text"),
        ({"after_sec": 60, "prompt": "a,b"}, "prompt 'a,b' should be a sound name"),
        ({"after_sec": 60, "prompt": "../etc/x"}, "prompt '../etc/x' should be a sound name"),
    ],
)
def test_a_wrong_offer_is_refused_saying_where_and_why(offer: Any, message: str) -> None:
    with pytest.raises(SettingsError) as error:
        FlowSettings.from_document(flow(offer))
    assert str(error.value).startswith("queue appointments, callback_offer: ")
    assert message in str(error.value)


def test_the_queues_file_makes_the_offer_a_periodic_announcement_and_the_key_an_exit() -> None:
    text = render_queues(
        [
            QueueSpec(
                name="appointments",
                callback_after_sec=60,
                callback_key="2",
                callback_repeat_sec=45,
                callback_prompt="callcards/vhold",
            ),
            QueueSpec(name="reception"),
        ]
    )
    appointments, reception = text.split("[appointments]")[1].split("[reception]")
    assert "context = cc-callback-key-2" in appointments
    assert "periodic-announce = callcards/vhold" in appointments
    assert "periodic-announce-startdelay = 60" in appointments
    assert "periodic-announce-frequency = 45" in appointments
    assert "announce-to-first-user = yes" in appointments
    assert "context" not in reception and "periodic" not in reception
    with pytest.raises(ValueError, match="callback key '#' is not 0-9"):
        render_queues([QueueSpec(name="x", callback_after_sec=5, callback_key="#")])


def test_every_key_has_its_exit_context_in_the_dialplan() -> None:
    dialplan = (ETC_ASTERISK / "extensions.conf").read_text()
    for key in "0123456789":
        assert re.search(
            rf"^\[cc-callback-key-{key}\]\nexten => {key},1,Goto\(cc-callback,s,1\)$",
            dialplan,
            re.M,
        )
    assert "AGI(${CC_AGI}/callback," in dialplan


@pytest.mark.parametrize(
    ("given", "number"),
    [
        ("79161234567", "79161234567"),
        ("+79161234567", "79161234567"),
        ("74957654321", "74957654321"),
        ("1234", None),  # too short
        ("1234567890123456", None),  # too long
        ("anonymous", None),
        ("", None),
        (None, None),
        ("7916*123456", None),
    ],
)
def test_a_number_to_call_back_is_5_to_15_digits(given: str | None, number: str | None) -> None:
    assert callback_number(given) == number


def test_a_number_to_call_back_is_one_the_outbound_allowlist_lets_us_dial() -> None:
    allowed = read_patterns(DEFAULT_OUTBOUND_NUMBERS)
    assert callback_number("+7 916 123-45-67", allowed) == "79161234567"
    assert callback_number("88091234567") == "88091234567"  # a premium number, well formed
    assert callback_number("88091234567", allowed) is None  # which the allowlist refuses
    assert callback_number("+4420712345678", allowed) is None  # international


def test_a_caller_who_asked_for_a_callback_is_not_abandoned() -> None:
    facts = HangupFacts(
        direction=Direction.INBOUND,
        answered=False,
        entered_queue=True,
        reason_so_far="callback_requested",
    )
    outcome = classify(facts)
    assert (outcome.status, outcome.end_reason) == (
        Status.CALLBACK_REQUESTED,
        "callback_requested",
    )
    assert classify(HangupFacts(Direction.INBOUND, False, entered_queue=True)).status is (
        Status.ABANDONED
    )


def test_publishing_checks_that_the_offer_sound_exists() -> None:
    from dialplan.validation import validate

    document = flow({"after_sec": 60, "prompt": "callcards/callback-offer"})
    problems = validate(FlowSettings.from_document(document), known_prompts=set())
    assert [str(p) for p in problems if "callback_offer" in p.where] == [
        "queue appointments, callback_offer: prompt 'callcards/callback-offer' is not among "
        "the sound files"
    ]
    assert not [
        p
        for p in validate(FlowSettings.from_document(flow({"after_sec": 0})), known_prompts=set())
        if "callback_offer" in p.where
    ]


def test_the_route_simulator_says_when_the_caller_is_offered_a_callback() -> None:
    from datetime import UTC, datetime

    from dialplan import simulate
    from dialplan.explain import describe

    settings = FlowSettings.from_document(flow({"after_sec": 60}))
    call = simulate(settings, "74950000000", "+79161234567", datetime(2026, 3, 2, 9, tzinfo=UTC))
    assert call.decision.queue == "appointments"
    lines = describe(call, settings)
    assert "   after 60 s the caller is offered a callback (press 1; again every 60 s)" in lines
    assert not any("callback" in line for line in describe(call))
