"""Apply the queues and their operators to Asterisk: write the include file, reload, check.

The file is replaced by pbx.replace (with a backup beside it); app_queue reloads it through
AMI; AMI QueueStatus must then show every active queue with exactly its operators. Anything
else puts the previous file back and reloads it, so a failed apply leaves Asterisk running
what it ran before, and says why.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callcards.config import Settings
from dialplan.virtual_hold import read_offer
from models import Queue, QueueMember, User
from pbx.ami import AmiClient, AmiError, Connect
from pbx.files import include_path, locked, require_include
from pbx.queue_state import (
    QueueAmi,
    RunningQueue,
    mismatches,
    reload_queues,
    running_queues,
    same_setup,
)
from pbx.queues_conf import (
    QUEUES_INCLUDE,
    ExpectedQueue,
    MemberSpec,
    QueueSpec,
    describe,
    expected_queues,
    render_queues,
)
from pbx.replace import Reload, replace_file
from pbx.steps import ApplyResult, Steps

__all__ = ["ApplyResult", "apply_queues", "pending_diff", "queue_specs"]

log = logging.getLogger(__name__)


def queue_specs(session: Session) -> tuple[list[QueueSpec], list[str]]:
    """The active queues with their operators as the database says; notes on who is left out."""
    specs, notes = [], []
    for queue in session.scalars(select(Queue).where(Queue.active.is_(True)).order_by(Queue.name)):
        rows = session.execute(
            select(QueueMember, User)
            .join(User, QueueMember.user_id == User.id)
            .where(QueueMember.queue_id == queue.id)
            .order_by(User.extension)
        ).all()
        members = []
        for membership, user in rows:
            if not user.active:
                notes.append(f"queue {queue.name}: {user.name} is not active, so not rung")
            elif not user.extension:
                notes.append(f"queue {queue.name}: {user.name} has no extension, so not rung")
            else:
                members.append(MemberSpec(user.extension, user.name, membership.penalty))
        specs.append(
            QueueSpec(
                name=queue.name,
                title=queue.title,
                strategy=queue.strategy,
                ring_timeout_sec=queue.ring_timeout_sec,
                wrapup_sec=queue.wrapup_sec,
                service_level_sec=queue.service_level_sec,
                members=tuple(members),
                **_callback_offer(queue),
            )
        )
    return specs, notes


def _callback_offer(queue: Queue) -> dict[str, Any]:
    """The queue's virtual hold as QueueSpec takes it (none stored: no offer)."""
    offer = read_offer(queue.callback_offer, f"queue {queue.name}, callback_offer")
    return {
        "callback_after_sec": offer.after_sec,
        "callback_key": offer.key,
        "callback_repeat_sec": offer.repeat_sec,
        "callback_prompt": offer.prompt,
    }


def pending_diff(session: Session, settings: Settings) -> str:
    """A unified diff from the live include file to what the database says ('' if none)."""
    live = _live_file(settings)
    specs, _ = queue_specs(session)
    text = render_queues(specs, settings.member_interface)
    old = live.read_text() if live.exists() else ""
    return "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            text.splitlines(keepends=True),
            fromfile=f"{live} (live)",
            tofile="from the database",
        )
    )


def apply_queues(
    session: Session, settings: Settings, *, connect: Connect | None = None
) -> ApplyResult:
    """Write the queues from the database for Asterisk, reload app_queue, and check it took them."""
    steps = Steps("queues")
    try:
        live = _live_file(settings)
        specs, notes = queue_specs(session)
        text = render_queues(specs, settings.member_interface)
        require_include(live, "queues.conf")
    except ValueError as error:
        return steps.failed(str(error))
    for note in notes:
        steps.note(note)
    with locked(live):
        return _Apply(settings, connect or AmiClient.from_settings, live, steps).run(text)


class _Apply:
    """One apply of a rendered file, under the lock."""

    def __init__(self, settings: Settings, connect: Connect, live: Path, steps: Steps) -> None:
        self.settings, self.connect, self.live, self.steps = settings, connect, live, steps

    def run(self, text: str) -> ApplyResult:
        """Confirm an unchanged file, or replace a changed one."""
        old = self.live.read_text() if self.live.exists() else None
        expected = expected_queues(text)
        gone = set(expected_queues(old or "")) - set(expected)
        try:
            with self.connect(self.settings) as ami:
                if old == text:
                    return self.confirm(ami, expected)
                return self.replace(ami, old, text, expected, gone)
        except AmiError as error:
            # Raised only while the file is untouched (replace() handles the rest itself).
            return self.steps.failed(f"{error}; nothing was changed")

    def confirm(self, ami: QueueAmi, expected: Mapping[str, ExpectedQueue]) -> ApplyResult:
        """The file already says this: check Asterisk runs it, reloading once if not."""
        steps = self.steps
        steps.note(f"{self.live.name} already says this")
        problems = mismatches(expected, running_queues(ami))
        if not problems:
            steps.note("Asterisk runs it: " + "; ".join(describe(expected)))
            return steps.done(changed=False)
        steps.note("Asterisk runs something else (" + "; ".join(problems) + "): reloading")
        reload_queues(ami)
        problems = mismatches(expected, running_queues(ami))
        if problems:
            return steps.failed("Asterisk did not take the queues: " + "; ".join(problems))
        steps.note("Asterisk runs it now: " + "; ".join(describe(expected)))
        return steps.done(changed=True)

    def replace(
        self,
        ami: QueueAmi,
        old: str | None,
        text: str,
        expected: Mapping[str, ExpectedQueue],
        gone: set[str],
    ) -> ApplyResult:
        """Write the new file, reload, check; on any failure put the old file back."""
        before = running_queues(ami)

        def check_new() -> list[str]:
            reload_queues(ami)
            return mismatches(expected, running_queues(ami), gone)

        return replace_file(
            self.live,
            old,
            text,
            self.steps,
            Reload(
                check_new=check_new,
                reload_old=lambda: self.reload_old(ami, before),
                asked="asked Asterisk to reload its queues (AMI QueueReload)",
                took="Asterisk runs: " + "; ".join(describe(expected)),
                what="the new queues",
            ),
        )

    def reload_old(self, ami: QueueAmi, before: Mapping[str, RunningQueue]) -> str:
        """Reload the previous file, back in place; what became of Asterisk, for the error."""
        name = self.live.name
        try:
            after = _reload_and_read(ami)
        except AmiError as first:
            # The session may be what broke (Asterisk closed it): one fresh one.
            try:
                with self.connect(self.settings) as fresh:
                    after = _reload_and_read(fresh)
            except AmiError as second:
                return (
                    f"the previous {name} is back, but Asterisk could not be asked to "
                    f"reload it ({first}; {second}): apply again once AMI answers"
                )
        if same_setup(before, after):
            self.steps.note("Asterisk runs the previous queues again")
            return "the previous queues are back in place"
        return (
            f"the previous {name} is back and reloaded, but Asterisk's queues differ from "
            "before the apply: check `queue show`"
        )


def _reload_and_read(ami: QueueAmi) -> dict[str, RunningQueue]:
    """Reload app_queue; what it runs then."""
    reload_queues(ami)
    return running_queues(ami)


def _live_file(settings: Settings) -> Path:
    """The queues include file Asterisk reads; ValueError when its folder is not configured."""
    return include_path(settings, QUEUES_INCLUDE)
