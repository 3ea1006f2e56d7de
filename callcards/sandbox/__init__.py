"""A real Asterisk 22 for tests and trials, run from a Debian-sid chroot."""

from __future__ import annotations

from callcards.sandbox.errors import SandboxError
from callcards.sandbox.process import SandboxInfo, cli, down, reload, restart, status, up
from callcards.sandbox.render import (
    AMI_SECRET,
    AMI_USER,
    RECORDINGS_IN_ASTERISK,
    SANDBOX_DIR,
    TEST_OPERATORS,
    render,
)
from callcards.sandbox.root import default_cache_dir, ensure_root

__all__ = [
    "AMI_SECRET",
    "AMI_USER",
    "RECORDINGS_IN_ASTERISK",
    "SANDBOX_DIR",
    "TEST_OPERATORS",
    "SandboxError",
    "SandboxInfo",
    "cli",
    "default_cache_dir",
    "down",
    "ensure_root",
    "reload",
    "render",
    "restart",
    "status",
    "up",
]
