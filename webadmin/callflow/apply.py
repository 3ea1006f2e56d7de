"""Sending what Asterisk must know (queues, operator phones) through `pbx` after a change."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session, scoped_session

from callcards.config import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What became of sending the queues to Asterisk, as the admin is shown it."""

    attempted: bool  # False when this install has no pbx module (queues.conf is edited by hand)
    ok: bool
    changed: bool = False
    messages: tuple[str, ...] = ()
    error: str | None = None

    def detail(self) -> dict[str, Any]:
        """The outcome for the audit log."""
        return {**asdict(self), "messages": list(self.messages)}

    @classmethod
    def from_detail(cls, detail: dict[str, Any] | None) -> Applied | None:
        """The outcome stored by `detail()`, None when there is none."""
        if not detail:
            return None
        return cls(bool(detail.get("attempted")), bool(detail.get("ok")),
                   bool(detail.get("changed")), tuple(detail.get("messages") or ()),
                   detail.get("error"))


def pbx_function(module: str, name: str) -> Callable[..., Any] | None:
    """`module.name` (e.g. pbx.apply.apply_queues) when the pbx package is installed, else None."""
    if importlib.util.find_spec("pbx") is None:
        return None
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def ask_pbx(what: str, module: str, name: str, *args: Any) -> tuple[Any, str | None] | None:
    """`module.name(*args)` and no error, or None and why it failed (AMI down...); logged.

    None when this install has no pbx module. Never raises: a page that asks Asterisk
    something says it could not, and goes on.
    """
    function = pbx_function(module, name)
    if function is None:
        return None
    try:
        return function(*args), None
    except Exception as exc:
        log.warning("could not %s: %s", what, exc)
        return None, f"{type(exc).__name__}: {exc}"


def pbx_apply() -> Callable[..., Any] | None:
    """`pbx.apply.apply_queues` when the pbx package is installed, else None."""
    return pbx_function("pbx.apply", "apply_queues")


def run_apply(apply: Callable[..., Any] | None, session: Session | scoped_session[Any],
              settings: Settings) -> Applied:
    """Run one of pbx's applies; a failure is reported, never raised."""
    try:
        if apply is None:
            return Applied(attempted=False, ok=False)
        result = apply(session, settings)
    except Exception as exc:  # the change is saved; the admin must see the apply failed
        log.exception("applying to Asterisk failed")
        session.rollback()
        return Applied(attempted=True, ok=False, error=f"{type(exc).__name__}: {exc}")
    return Applied(attempted=True, ok=bool(result.ok), changed=bool(result.changed),
                   messages=tuple(str(message) for message in result.messages),
                   error=result.error)


def apply_queues(session: Session | scoped_session[Any], settings: Settings) -> Applied:
    """Ask Asterisk to take the queues and members; a failure is reported, never raised."""
    return run_apply(pbx_apply(), session, settings)
