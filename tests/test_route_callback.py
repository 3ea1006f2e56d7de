"""The `callback` route (virtual hold) driven by a scripted Asterisk peer: the caller confirms
their number, types another, types nonsense, says nothing, or hangs up (the same on the real
Asterisk: test_virtual_hold_asterisk.py)."""

from __future__ import annotations

from tests.fake_asterisk import FakeChannel
from tests.test_routes import agi, card_of, played, run  # noqa: F401 (agi: the fixture)

CALLER = "+79161234567"


def said(channel: FakeChannel) -> list[str]:
    """The numbers read back to the caller (SAY DIGITS)."""
    return [words[2] for words in channel.commands if words[:2] == ["SAY", "DIGITS"]]


async def queued(server, uniqueid: str, caller_id: str = CALLER) -> None:  # type: ignore[no-untyped-def]
    """A call that pressed 1 for appointments and waits there."""
    await run(server, FakeChannel("incoming", uniqueid=uniqueid, keys=["1"], caller_id=caller_id))


async def hang_up(server, uniqueid: str) -> None:  # type: ignore[no-untyped-def]
    await run(server, FakeChannel("hangup", uniqueid=uniqueid, dead=True))


async def test_a_caller_who_confirms_their_number_is_called_back_on_it(agi, sessions) -> None:  # noqa: F811
    server, _ = agi
    await queued(server, "cb1.1")
    channel = FakeChannel("callback", uniqueid="cb1.1", keys=["1"])
    variables = await run(server, channel)
    await hang_up(server, "cb1.1")
    card = card_of(sessions, "cb1.1")
    assert variables["CC_ACTION"] == "hangup"
    assert said(channel) == ["79161234567"]
    assert played(channel) == [
        "telephone-number",
        "if-correct-press",
        "digits/1",
        "auth-thankyou",
        "goodbye",
    ]
    assert (card.status, card.end_reason, card.callback_number) == (
        "callback_requested",
        "callback_requested",
        "79161234567",
    )


async def test_too_many_digits_then_another_number_typed_and_confirmed(agi, sessions) -> None:  # noqa: F811
    server, _ = agi
    await queued(server, "cb2.1")
    keys = ["1234567890123456", "2", "74957654321", "1"]
    channel = FakeChannel("callback", uniqueid="cb2.1", keys=keys)
    variables = await run(server, channel)
    await hang_up(server, "cb2.1")
    card = card_of(sessions, "cb2.1")
    assert variables["CC_ACTION"] == "hangup"
    assert "please-try-again" in played(channel)
    assert said(channel) == ["79161234567", "79161234567", "74957654321"]
    assert (card.status, card.callback_number) == ("callback_requested", "74957654321")
    [asked] = [event.data for event in card.events if event.kind == "callback_requested"]
    assert asked == {"number": "74957654321", "how": "typed"}


async def test_silence_falls_back_to_the_callers_own_number(agi, sessions) -> None:  # noqa: F811
    server, _ = agi
    await queued(server, "cb3.1")
    channel = FakeChannel("callback", uniqueid="cb3.1", keys=[])
    variables = await run(server, channel)
    await hang_up(server, "cb3.1")
    card = card_of(sessions, "cb3.1")
    assert variables["CC_ACTION"] == "hangup"
    assert played(channel).count("please-try-again") == 3
    assert (card.status, card.callback_number) == ("callback_requested", "79161234567")


async def test_an_anonymous_caller_with_no_number_goes_back_to_the_queue(agi, sessions) -> None:  # noqa: F811
    server, _ = agi
    await queued(server, "cb4.1", caller_id="anonymous")
    channel = FakeChannel("callback", uniqueid="cb4.1", keys=["12"], caller_id="anonymous")
    variables = await run(server, channel)
    assert variables["CC_ACTION"] == "queue"
    assert played(channel)[-1] == "unidentified-no-callback" and not said(channel)
    await hang_up(server, "cb4.1")
    card = card_of(sessions, "cb4.1")
    assert (card.status, card.callback_number) == ("abandoned", None)


async def test_a_hang_up_while_confirming_keeps_the_request(agi, sessions) -> None:  # noqa: F811
    server, _ = agi
    await queued(server, "cb5.1")
    channel = FakeChannel("callback", uniqueid="cb5.1", hang_up_at_get_data=0)
    variables = await run(server, channel)
    await hang_up(server, "cb5.1")
    card = card_of(sessions, "cb5.1")
    assert "CC_ACTION" not in variables
    assert (card.status, card.callback_number) == ("callback_requested", "79161234567")
    [asked] = [event.data for event in card.events if event.kind == "callback_requested"]
    assert asked == {"number": "79161234567", "how": "hangup"}
