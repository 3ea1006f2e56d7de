"""The Debian-sid root folder the sandbox Asterisk runs in (built by debootstrap)."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from callcards import config
from callcards.sandbox.errors import SandboxError

ROOT_NAME = "asterisk-root"
PACKAGES = ("asterisk", "asterisk-modules", "asterisk-core-sounds-en")
# Debian 12 has no asterisk package; sid has 22 LTS (see docs: ASTERISK.md).
SUITE = "sid"
BUILD_TIMEOUT_SEC = 1800


def default_cache_dir() -> Path:
    """$CALLCARDS_CACHE_DIR, else $XDG_CACHE_HOME/callcards, else ~/.cache/callcards."""
    return config.cache_dir()


def is_complete(root: Path) -> bool:
    """Whether `root` holds an Asterisk we can start."""
    return (root / "usr/sbin/asterisk").is_file() and (root / "usr/share/asterisk").is_dir()


def ensure_root(cache_dir: Path | None = None) -> Path:
    """Return `<cache_dir>/asterisk-root`, building it with debootstrap if missing."""
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    root = cache_dir / ROOT_NAME
    if is_complete(root):
        return root
    if root.exists():
        raise SandboxError(
            f"{root} exists but holds no Asterisk (an interrupted build?): remove it and run again"
        )
    if shutil.which("debootstrap") is None:
        raise SandboxError(
            "debootstrap is not installed, and the sandbox needs it once to build "
            f"{root} (about 500 MB, two to four minutes): run `apt-get install debootstrap` as root"
        )
    if os.geteuid() != 0:
        raise SandboxError(f"building {root} needs root (debootstrap and chroot): run as root")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Two test runs starting together must not both build (or half-see) the root.
    with open(cache_dir / f"{ROOT_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_complete(root):
            return root
        _build(root)
    return root


def _build(root: Path) -> None:
    """debootstrap into a temporary folder beside `root`, then rename it into place."""
    mirror = config.debian_mirror()
    building = Path(tempfile.mkdtemp(prefix=f"{ROOT_NAME}.building.", dir=root.parent))
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(building),
        mirror,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SEC, check=False
        )
        if result.returncode != 0 or not is_complete(building):
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-15:])
            raise SandboxError(f"debootstrap failed ({' '.join(command)}):\n{tail}")
        building.chmod(0o755)
        building.rename(root)
    except BaseException:
        # debootstrap mounts proc/sys inside while it works; never delete through them.
        unmount_below(building)
        shutil.rmtree(building, ignore_errors=True)
        raise


def mounts_below(path: Path) -> list[Path]:
    """Mount points at or under `path`, deepest first (from /proc/self/mounts)."""
    prefix = str(path.resolve())
    found = []
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            # Fields are space separated; spaces inside a path are written as \040.
            point = line.split()[1].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(Path(point))
    return sorted(found, key=lambda p: len(p.parts), reverse=True)


def unmount_below(path: Path) -> None:
    """Unmount everything mounted at or under `path`."""
    for point in mounts_below(path):
        subprocess.run(["umount", "--lazy", str(point)], capture_output=True, check=False)
