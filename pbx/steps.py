"""What one apply did, step by step, for the admin and the log."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplyResult:
    """Whether Asterisk now runs what the database says, and what happened."""

    ok: bool
    changed: bool
    messages: list[str] = field(default_factory=list)
    error: str | None = None
    #: What was applied, for the outcome line ("queues", "operator phones").
    subject: str = "queues"

    def lines(self) -> list[str]:
        """The result as text for a person: the steps, then the outcome."""
        if not self.ok:
            outcome = f"FAILED: {self.error}"
        elif self.changed:
            outcome = f"applied: Asterisk runs the new {self.subject}"
        else:
            outcome = f"nothing to apply: Asterisk already runs these {self.subject}"
        return [*self.messages, outcome]


class Steps:
    """The messages of one apply of `subject`, also logged."""

    def __init__(self, subject: str = "queues") -> None:
        self.subject = subject
        self.messages: list[str] = []

    def note(self, message: str) -> None:
        """Log a step and keep it for the admin."""
        log.info("apply %s: %s", self.subject, message)
        self.messages.append(message)

    def done(self, *, changed: bool) -> ApplyResult:
        """Success, with the steps so far."""
        return ApplyResult(
            ok=True, changed=changed, messages=list(self.messages), subject=self.subject
        )

    def failed(self, error: str) -> ApplyResult:
        """Failure, with the steps so far and the reason."""
        log.error("apply %s failed: %s", self.subject, error)
        return ApplyResult(
            ok=False, changed=False, messages=list(self.messages), error=error, subject=self.subject
        )
