"""Reading Asterisk channel and interface names."""

from __future__ import annotations

import re

# PJSIP/101, SIP/101-0000001a, Local/101@cc-test-operators/n, PJSIP/101@site
_EXTENSION = re.compile(r"^[A-Za-z]+/([^@/\-;]+)")


def extension_of(interface: str | None) -> str | None:
    """The operator's extension inside a queue member interface or channel name."""
    if not interface:
        return None
    match = _EXTENSION.match(interface.strip())
    return match.group(1) if match else None
