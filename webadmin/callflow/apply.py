"""Sending queues and their operators to Asterisk after a publish, through `pbx.apply`."""

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


def pbx_apply() -> Callable[..., Any] | None:
    """`pbx.apply.apply_queues` when the pbx package is installed, else None."""
    if importlib.util.find_spec("pbx") is None:
        return None
    apply: Callable[..., Any] = importlib.import_module("pbx.apply").apply_queues
    return apply


def apply_queues(session: Session | scoped_session[Any], settings: Settings) -> Applied:
    """Ask Asterisk to take the queues and members; a failure is reported, never raised."""
    try:
        apply = pbx_apply()
        if apply is None:
            return Applied(attempted=False, ok=False)
        result = apply(session, settings)
    except Exception as exc:  # the publish is done; the admin must see the apply failed
        log.exception("applying queues to Asterisk failed")
        session.rollback()
        return Applied(attempted=True, ok=False, error=f"{type(exc).__name__}: {exc}")
    return Applied(attempted=True, ok=bool(result.ok), changed=bool(result.changed),
                   messages=tuple(str(message) for message in result.messages),
                   error=result.error)
