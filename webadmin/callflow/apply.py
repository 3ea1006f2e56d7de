"""Sending what Asterisk must know (queues, operator phones) through `pbx` after a change."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy.orm import Session

from pbx.client import PbxClient
from pbx.steps import ApplyResult
from webadmin.extensions import db

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Applied:
    """What became of sending the queues to Asterisk, as the admin is shown it."""

    attempted: bool  # False when the site has no AMI set up (queues.conf is edited by hand)
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
        return cls(
            bool(detail.get("attempted")),
            bool(detail.get("ok")),
            bool(detail.get("changed")),
            tuple(detail.get("messages") or ()),
            detail.get("error"),
        )


def site_pbx() -> PbxClient | None:
    """The site's way to Asterisk, made once by the app factory; None when AMI is not set up."""
    pbx: PbxClient | None = current_app.extensions.get("pbx")
    return pbx


@dataclass(frozen=True)
class PbxAnswer(Generic[T]):
    """What Asterisk answered, or why it could not (`value` is None then)."""

    value: T | None
    error: str | None = None


def ask_pbx(what: str, question: Callable[[PbxClient], T]) -> PbxAnswer[T] | None:
    """Ask Asterisk `question`; its answer, or why it failed (AMI down...), logged.

    None when the site has no AMI set up. Never raises: a page that asks Asterisk
    something says it could not, and goes on.
    """
    pbx = site_pbx()
    if pbx is None:
        return None
    try:
        return PbxAnswer(question(pbx))
    except Exception as exc:
        log.warning("could not %s: %s", what, exc)
        return PbxAnswer(None, f"{type(exc).__name__}: {exc}")


def run_apply(apply: Callable[[PbxClient, Session], ApplyResult]) -> Applied:
    """Run one of pbx's applies on the site's session; a failure is reported, never raised."""
    pbx, session = site_pbx(), db.session()
    if pbx is None:
        return Applied(attempted=False, ok=False)
    try:
        result = apply(pbx, session)
    except Exception as exc:  # the change is saved; the admin must see the apply failed
        log.exception("applying to Asterisk failed")
        session.rollback()
        return Applied(attempted=True, ok=False, error=f"{type(exc).__name__}: {exc}")
    return Applied(
        attempted=True,
        ok=result.ok,
        changed=result.changed,
        messages=tuple(result.messages),
        error=result.error,
    )


def apply_queues() -> Applied:
    """Ask Asterisk to take the queues and members; a failure is reported, never raised."""
    return run_apply(lambda pbx, session: pbx.apply_queues(session))
