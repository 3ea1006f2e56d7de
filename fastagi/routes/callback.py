"""`callback`: a waiting caller pressed their queue's callback key (virtual hold).

Dialplan: [cc-callback], reached when app_queue lets the caller out of the queue with the
key (the queue's exit-to-context), runs `AGI(${CC_AGI}/callback,${CHANNEL(linkedid)},
${CC_QUEUE})`. The caller hears their number read back and confirms it with 1, or types
another (2 first, or straight away); a number typed is read back to confirm too. No
digits, too many, or a number that cannot be called back: asked again, up to TRIES times,
then the caller's own number is taken, or, with none (anonymous), the caller goes back to
the queue. With a number, the card gets it (CallbackRequested), the caller hears the
thanks and the call ends: the card closes "callback requested". A caller who hangs up
meanwhile keeps their request when their own number is known.

Prompts are Asterisk's core sounds (the nearest there are; a site may record better ones):
"Telephone number. <digits>. If this is correct, press 1. Press 2 to enter a different
number." / "You entered <digits>. If this is correct, press 1." / "Please enter the number
you wish to call." / "Please try again." / "Un-identified or withheld and therefore cannot
be called back." / "Thank you. Goodbye!"
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from dialplan.numbers import Pattern
from dialplan.virtual_hold import TYPED_MAX_DIGITS, callback_number
from fastagi import variables as var
from fastagi.changes import CallbackRequested
from fastagi.protocol import AgiCall, AgiHangup
from fastagi.routes.common import caller_facts, dialplan_argument
from fastagi.services import AgiServices

log = logging.getLogger(__name__)

NUMBER_IS = "telephone-number"
YOU_ENTERED = "you-entered"
IF_CORRECT = "if-correct-press"
CONFIRM = "1"
OTHER = "2"
OTHER_NUMBER = "vm-calldiffnum"
ENTER_NUMBER = "vm-enter-num-to-call"
TRY_AGAIN = "please-try-again"
NO_NUMBER = "unidentified-no-callback"
THANKS = ("auth-thankyou", "goodbye")
#: Times the caller is asked before the fallback.
TRIES = 3
#: Milliseconds GET DATA waits for a key (each one).
KEY_TIMEOUT_MS = 6000


@dataclass(frozen=True)
class Chosen:
    """The number to call back on, and how the caller gave it."""

    number: str
    how: str  # confirmed, typed, caller_id (nothing usable typed), hangup


async def _keys(call: AgiCall, prompt: str) -> str:
    """The digits typed while or after `prompt` plays ('' for none)."""
    result = await call.get_data(prompt, KEY_TIMEOUT_MS, TYPED_MAX_DIGITS)
    if result.hungup:
        raise AgiHangup("GET DATA: the caller hung up")
    return result.digits


async def _read_back(call: AgiCall, number: str, own: bool) -> str:
    """Say the number and ask for 1 (own number: or 2 for another); what the caller typed."""
    await call.stream_file(NUMBER_IS if own else YOU_ENTERED)
    await call.say_digits(number)
    await call.stream_file(IF_CORRECT)
    if not own:
        return await _keys(call, f"digits/{CONFIRM}")
    await call.stream_file(f"digits/{CONFIRM}")
    return await _keys(call, OTHER_NUMBER)


async def ask_number(call: AgiCall, own: str | None, allowed: tuple[Pattern, ...]) -> Chosen | None:
    """The number the caller confirms; their own after TRIES failed tries; None without one.
    A typed number must be one the outbound allowlist `allowed` lets us call."""
    candidate, how = own, "confirmed"
    for _ in range(TRIES):
        if candidate is None:
            candidate = callback_number(await _keys(call, ENTER_NUMBER), allowed)
            how = "typed"
            if candidate is None:
                await call.stream_file(TRY_AGAIN)
                continue
        answer = await _read_back(call, candidate, how == "confirmed")
        if answer == CONFIRM:
            return Chosen(candidate, how)
        if answer == OTHER and how == "confirmed":
            candidate = None
            continue
        typed = callback_number(answer, allowed)
        if typed is not None:
            candidate, how = typed, "typed"
            continue
        await call.stream_file(TRY_AGAIN)
    return Chosen(own, "caller_id") if own else None


async def callback(call: AgiCall, services: AgiServices) -> None:
    """Take the caller's number, note the request on the card, thank them; or send them back."""
    facts = await caller_facts(call, dialplan_argument(call, 1))
    own = callback_number(facts.caller_number, services.outbound_numbers)
    try:
        chosen = await ask_number(call, own, services.outbound_numbers)
    except AgiHangup:
        if own is not None:  # the key said they want a callback, and we know where
            _request(services, facts.linkedid, Chosen(own, "hangup"))
        return
    if chosen is None:
        log.info("callback for %s: no number to call back; back to the queue", facts.linkedid)
        try:
            await call.stream_file(NO_NUMBER)
            await call.set_variable(var.CC_ACTION, var.ACTION_QUEUE)
        except AgiHangup:
            pass
        return
    _request(services, facts.linkedid, chosen)
    try:
        # Before the thanks: a server gone mid-way still ends the call as asked.
        await call.set_variable(var.CC_ACTION, var.ACTION_HANGUP)
        for prompt in THANKS:
            await call.stream_file(prompt)
    except AgiHangup:
        pass


def _request(services: AgiServices, linkedid: str, chosen: Chosen) -> None:
    """Note the request on the card, after the call's earlier changes (before its hangup's)."""
    services.change_card(
        linkedid, CallbackRequested(linkedid, chosen.number, services.now(), chosen.how)
    )
