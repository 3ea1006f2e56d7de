"""The one write-reload-restore of a generated include file (queues and phones alike).

The new file is written beside a backup of the old one, Asterisk is asked to reload it and
the result is checked; on ANY failure of the reload or the check (AMI refusing, a lost
session, a bug in the check itself) the previous file is put back and reloaded, so a failed
apply leaves Asterisk running what it ran before, and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pbx.ami import AmiError
from pbx.files import write_atomically
from pbx.steps import ApplyResult, Steps

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reload:
    """What differs between the files: how to reload and check the new one, and the old one."""

    #: Reload Asterisk and list what it does not run as the new file says (empty: it does).
    check_new: Callable[[], list[str]]
    #: Reload the previous file once it is back; what became of Asterisk, for the error.
    reload_old: Callable[[], str]
    #: The step noted after a reload ("asked Asterisk to reload its queues (AMI QueueReload)").
    asked: str
    #: The step noted when Asterisk took the new file.
    took: str
    #: What Asterisk did not take, for the error ("the new queues", "the phones").
    what: str


def replace_file(
    live: Path, old: str | None, text: str, steps: Steps, reload: Reload
) -> ApplyResult:
    """Write `text` to `live` (the old one kept as .bak), reload, check; any failure: restore."""
    backup = live.with_name(live.name + ".bak")
    try:
        if old is not None:
            write_atomically(backup, old, like=live)
        write_atomically(live, text, like=live)
    except OSError as error:
        return steps.failed(f"cannot write {live}: {error}; nothing was changed")
    steps.note(f"wrote {live}" + (f" (the previous one is {backup.name})" if old else ""))
    try:
        problems = reload.check_new()
        steps.note(reload.asked)
    except AmiError as error:
        problems = [str(error)]
    except Exception as error:  # anything at all: the old file must go back
        log.exception("apply %s: reloading or checking failed", steps.subject)
        problems = [f"checking the reload failed: {error!r}"]
    if not problems:
        steps.note(reload.took)
        return steps.done(changed=True)
    reason = f"Asterisk did not take {reload.what}: " + "; ".join(problems)
    steps.note(reason)
    return steps.failed(f"{reason}; {_restore(live, old, steps, reload)}")


def _restore(live: Path, old: str | None, steps: Steps, reload: Reload) -> str:
    """Put the previous file back (none: remove the new one) and reload it."""
    try:
        if old is None:
            live.unlink(missing_ok=True)
        else:
            write_atomically(live, old, like=live)
    except OSError as error:
        return f"and the previous {live.name} could not be put back ({error}): restore it by hand"
    steps.note(f"put the previous {live.name} back")
    try:
        return reload.reload_old()
    except Exception as error:  # the file is back whatever Asterisk says: tell the admin
        log.exception("apply %s: reloading the previous file failed", steps.subject)
        return f"the previous {live.name} is back, but the reload failed ({error}): apply again"
