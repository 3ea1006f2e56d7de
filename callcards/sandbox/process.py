"""Start, stop and talk to the sandbox Asterisk (a daemon inside the chroot)."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from callcards.sandbox.conf import ConfFile
from callcards.sandbox.errors import SandboxError
from callcards.sandbox.render import (
    AMI_SECRET,
    AMI_USER,
    ASTERISK_CONF,
    RECORDINGS_IN_ASTERISK,
    render,
    sandbox_dir,
)
from callcards.sandbox.root import ROOT_NAME, default_cache_dir, ensure_root, mounts_below

AMI_HOST = "127.0.0.1"
STATE_FILE = "sandbox.json"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class SandboxInfo:
    """Where the running sandbox is and how to reach it."""

    ami_host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    agi_address: str
    # Host path of the recordings folder (what RECORDINGS_DIR should be).
    recordings_dir: Path
    # The same folder as Asterisk sees it inside the chroot (CC_RECORDINGS_DIR).
    recordings_dir_in_asterisk: str
    pid: int
    root: Path
    etc_dir: Path
    log_dir: Path
    database_url: str | None = None
    # SIP over UDP on 127.0.0.1 at this port, or None: no SIP transport.
    sip_port: int | None = None
    # SIP over WebSocket (browser phones) at ws://127.0.0.1:<ws_port>/ws, or None.
    ws_port: int | None = None

    @property
    def ws_url(self) -> str | None:
        """The WebSocket URL browser phones register over, if the sandbox has one."""
        return None if self.ws_port is None else f"ws://127.0.0.1:{self.ws_port}/ws"


def up(
    agi_address: str = "127.0.0.1:4573",
    ami_port: int = 5038,
    recordings_dir: Path | None = None,
    cache_dir: Path | None = None,
    *,
    database_url: str | None = None,
    boot_timeout: float = 60.0,
    sip_port: int | None = None,
    ws_port: int | None = None,
) -> SandboxInfo:
    """Start the sandbox Asterisk (restarting it if it runs) and wait until AMI logins work."""
    _require_root_user()
    root = ensure_root(cache_dir)
    # Already up: restart, so the new settings and a fresh log are what runs.
    down(cache_dir)
    _require_free_port(ami_port)
    etc = render(
        root,
        agi_address=agi_address,
        ami_port=ami_port,
        database_url=database_url,
        sip_port=sip_port,
        ws_port=ws_port,
    )
    if database_url is not None:
        _require_record_tables(etc, database_url)
    base = sandbox_dir(root)
    for folder in ("log", "run", "spool"):
        shutil.rmtree(base / folder, ignore_errors=True)
        (base / folder).mkdir()
    recordings = _mount_recordings(base, recordings_dir)
    with open(base / "log" / "startup.log", "wb") as startup:
        # Asterisk forks into the background by itself; this returns at once.
        started = subprocess.run(
            ["chroot", str(root), "asterisk", "-C", str(ASTERISK_CONF)],
            stdin=subprocess.DEVNULL,
            stdout=startup,
            stderr=subprocess.STDOUT,
            timeout=30,
            check=False,
            env=asterisk_environment(),
        )
    try:
        if started.returncode != 0:
            raise SandboxError(f"asterisk did not start (exit {started.returncode})")
        _wait_fully_booted(root, boot_timeout)
        _wait_ami_login(ami_port, boot_timeout)
        pid = _running_pid(root)
        if pid is None:
            raise SandboxError("asterisk started but its pid file is missing")
    except (SandboxError, subprocess.TimeoutExpired) as error:
        log = _log_tail(base)
        down(cache_dir)
        raise SandboxError(f"the sandbox Asterisk did not come up: {error}\n{log}") from error
    info = SandboxInfo(
        ami_host=AMI_HOST,
        ami_port=ami_port,
        ami_user=AMI_USER,
        ami_secret=AMI_SECRET,
        agi_address=agi_address,
        recordings_dir=recordings,
        recordings_dir_in_asterisk=str(RECORDINGS_IN_ASTERISK),
        pid=pid,
        root=root,
        etc_dir=etc,
        log_dir=base / "log",
        database_url=database_url,
        sip_port=sip_port,
        ws_port=ws_port,
    )
    _write_state(root, info)
    return info


def down(cache_dir: Path | None = None, *, timeout: float = 30.0) -> None:
    """Stop the sandbox Asterisk if it runs and release the recordings mount."""
    root = _root_path(cache_dir)
    base = sandbox_dir(root)
    pid = _running_pid(root)
    if pid is not None:
        _asterisk_rx(root, "core stop now", timeout=timeout, check=False)
        if not _wait_gone(pid, timeout):
            # The pid was checked to be our chrooted asterisk (see _running_pid).
            os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 5.0):
                os.kill(pid, signal.SIGKILL)
                _wait_gone(pid, 5.0)
    if (base / "recordings").is_dir() and mounts_below(base / "recordings"):
        subprocess.run(["umount", str(base / "recordings")], capture_output=True, check=True)
    state = base / STATE_FILE
    if state.exists():
        state.unlink()


def status(cache_dir: Path | None = None) -> dict[str, Any]:
    """Whether the sandbox runs, and how it was started (from its state file)."""
    root = _root_path(cache_dir)
    result: dict[str, Any] = {
        "running": False,
        "pid": None,
        "root": str(root),
        "root_built": (root / "usr/sbin/asterisk").is_file(),
    }
    pid = _running_pid(root)
    state = sandbox_dir(root) / STATE_FILE
    if pid is not None and state.is_file():
        result.update(json.loads(state.read_text()))
        result["running"] = True
        result["pid"] = pid
        result["version"] = _asterisk_rx(root, "core show version", timeout=10).strip()
    return result


def cli(command: str, cache_dir: Path | None = None, *, timeout: float = 30.0) -> str:
    """Run an Asterisk CLI command in the sandbox (asterisk -rx) and return its output."""
    root = _root_path(cache_dir)
    if _running_pid(root) is None:
        raise SandboxError("the sandbox Asterisk is not running: start it with up()")
    return _asterisk_rx(root, command, timeout=timeout)


def reload(cache_dir: Path | None = None, *, agi_address: str | None = None) -> None:
    """Render etc_asterisk/ again (maybe with a new FastAGI address); reload dialplan, queues."""
    root = _root_path(cache_dir)
    state = sandbox_dir(root) / STATE_FILE
    if _running_pid(root) is None or not state.is_file():
        raise SandboxError("the sandbox Asterisk is not running: start it with up()")
    saved = json.loads(state.read_text())
    saved["agi_address"] = agi_address or saved["agi_address"]
    render(
        root,
        agi_address=saved["agi_address"],
        ami_port=saved["ami_port"],
        database_url=saved["database_url"],
        sip_port=saved.get("sip_port"),
        ws_port=saved.get("ws_port"),
    )
    # "dialplan reload" also resets globals (clearglobalvars=yes).
    cli("dialplan reload", cache_dir)
    cli("queue reload all", cache_dir)
    state.write_text(json.dumps(saved, indent=2))


def restart(cache_dir: Path | None = None, *, timeout: float = 60.0) -> int:
    """Stop the running sandbox Asterisk and start it again on the same configuration.

    As a server's restart does: the process ends (its sockets close, so phones see the
    connection drop), the rendered config, ports and recordings mount stay. The new pid.
    """
    root = _root_path(cache_dir)
    state = sandbox_dir(root) / STATE_FILE
    pid = _running_pid(root)
    if pid is None or not state.is_file():
        raise SandboxError("the sandbox Asterisk is not running: start it with up()")
    saved = json.loads(state.read_text())
    _asterisk_rx(root, "core stop now", timeout=timeout, check=False)
    if not _wait_gone(pid, timeout):
        os.kill(pid, signal.SIGKILL)
        _wait_gone(pid, 5.0)
    started = subprocess.run(
        ["chroot", str(root), "asterisk", "-C", str(ASTERISK_CONF)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=30,
        check=False,
        env=asterisk_environment(),
    )
    if started.returncode != 0:
        raise SandboxError(f"asterisk did not start again (exit {started.returncode})")
    _wait_fully_booted(root, timeout)
    _wait_ami_login(int(saved["ami_port"]), timeout)
    new_pid = _running_pid(root)
    if new_pid is None:
        raise SandboxError("asterisk started again but its pid file is missing")
    saved["pid"] = new_pid
    state.write_text(json.dumps(saved, indent=2))
    return new_pid


def asterisk_environment() -> dict[str, str]:
    """The environment the sandbox Asterisk runs with.

    PGTZ=UTC: cdr_pgsql and cel_pgsql write times as zone-less text (UTC,
    cdr_pgsql.conf timezone / cel_pgsql.conf usegmtime), which PostgreSQL
    reads in the session's time zone; libpq takes that zone from PGTZ.
    """
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG": "C.UTF-8",
        "PGTZ": "UTC",
    }


def _root_path(cache_dir: Path | None) -> Path:
    """`<cache_dir>/asterisk-root`, without building it."""
    return (Path(cache_dir) if cache_dir is not None else default_cache_dir()) / ROOT_NAME


def _require_root_user() -> None:
    """chroot (and the recordings bind mount) need root."""
    if os.geteuid() != 0:
        raise SandboxError("the sandbox runs Asterisk in a chroot, which needs root")


def _require_free_port(port: int) -> None:
    """Refuse a port another program holds (the AMI check could log in *there*)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((AMI_HOST, port))
        except OSError as error:
            raise SandboxError(
                f"AMI port {AMI_HOST}:{port} is in use (another Asterisk?): "
                "stop it or pick another ami_port"
            ) from error


def _require_record_tables(etc: Path, database_url: str) -> None:
    """Refuse to start without the CDR/CEL tables: Asterisk would abort.

    Asterisk 22.10's cdr_pgsql aborts the whole process at load ("double free
    or corruption") when its table has no columns (is missing).
    """
    import psycopg2  # only the sandbox with a database needs it

    tables = [
        ConfFile.parse((etc / name).read_text()).section("global").get("table") or default
        for name, default in (("cdr_pgsql.conf", "cdr"), ("cel_pgsql.conf", "cel"))
    ]
    scheme, rest = database_url.split("://", 1)
    dsn = f"{scheme.split('+')[0]}://{rest}"
    missing = []
    try:
        connection = psycopg2.connect(dsn, connect_timeout=5)
        try:
            with connection.cursor() as cursor:
                for table in tables:
                    cursor.execute("SELECT to_regclass(%s)", (table,))
                    if cursor.fetchone()[0] is None:
                        missing.append(table)
        finally:
            connection.close()
    except psycopg2.Error as error:
        raise SandboxError(f"cannot reach the database for CDR/CEL: {error}".strip()) from error
    if missing:
        raise SandboxError(
            f"the database lacks {', '.join(missing)} (Asterisk's cdr_pgsql aborts without "
            "them): run `callcards db upgrade` first, or start the sandbox without a database"
        )


def _mount_recordings(base: Path, recordings_dir: Path | None) -> Path:
    """The host folder recordings appear in: the chroot's own, or `recordings_dir` bound onto it."""
    inside = base / "recordings"
    if recordings_dir is None:
        return inside
    recordings_dir = Path(recordings_dir).resolve()
    recordings_dir.mkdir(parents=True, exist_ok=True)
    # Asterisk cannot see outside its chroot; a bind mount shows it the folder.
    mounted = subprocess.run(
        ["mount", "--bind", str(recordings_dir), str(inside)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        raise SandboxError(
            f"cannot bind {recordings_dir} into the sandbox ({mounted.stderr.strip()}); "
            f"leave recordings_dir unset and read recordings from {inside}"
        )
    return recordings_dir


def _asterisk_rx(root: Path, command: str, *, timeout: float, check: bool = True) -> str:
    """`asterisk -rx command` against the sandbox's control socket; colours stripped."""
    result = subprocess.run(
        ["chroot", str(root), "asterisk", "-C", str(ASTERISK_CONF), "-rx", command],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise SandboxError(f"asterisk -rx {command!r} failed: {result.stderr.strip()}")
    return _ANSI.sub("", result.stdout)


def _wait_fully_booted(root: Path, timeout: float) -> None:
    """Until `core waitfullybooted` answers (the control socket appears a moment after fork)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            output = _asterisk_rx(root, "core waitfullybooted", timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            output = ""
        if "fully booted" in output.lower():
            return
        if time.monotonic() > deadline:
            raise SandboxError(f"not fully booted after {timeout:.0f} s")
        time.sleep(0.2)


def _wait_ami_login(port: int, timeout: float) -> None:
    """Until the sandbox's AMI user can log in."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            if _ami_login_works(port):
                return
            last = "login refused"
        except OSError as error:
            last = str(error)
        time.sleep(0.2)
    raise SandboxError(f"AMI login on {AMI_HOST}:{port} failed: {last}")


def _ami_login_works(port: int) -> bool:
    """Log in and out once with the sandbox's AMI user."""
    with socket.create_connection((AMI_HOST, port), timeout=5) as ami:
        reader = ami.makefile("rb")
        reader.readline()  # "Asterisk Call Manager/x.y.z"
        ami.sendall(
            f"Action: Login\r\nUsername: {AMI_USER}\r\nSecret: {AMI_SECRET}\r\n\r\n".encode()
        )
        reply = []
        while (line := reader.readline()) not in (b"\r\n", b""):
            reply.append(line)
        ami.sendall(b"Action: Logoff\r\n\r\n")
        return b"Response: Success\r\n" in reply


def _running_pid(root: Path) -> int | None:
    """The pid of the sandbox's asterisk if it runs (checked against its command line)."""
    pidfile = sandbox_dir(root) / "run" / "asterisk.pid"
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    # A recycled pid, or a zombie (empty cmdline), is not our Asterisk.
    return pid if str(ASTERISK_CONF).encode() in cmdline else None


def _wait_gone(pid: int, timeout: float) -> bool:
    """Whether process `pid` ended (or became a zombie) within `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.1)
    return False


def _log_tail(base: Path, lines: int = 30) -> str:
    """The end of the sandbox's messages log and startup output, for error messages."""
    parts = []
    for name in ("startup.log", "messages.log"):
        path = base / "log" / name
        if path.is_file():
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path}\n" + "\n".join(text))
    return "\n".join(parts)


def _write_state(root: Path, info: SandboxInfo) -> None:
    """Remember how the sandbox was started (status(), reload())."""
    state = {
        key: str(value) if isinstance(value, Path) else value for key, value in asdict(info).items()
    }
    (sandbox_dir(root) / STATE_FILE).write_text(json.dumps(state, indent=2))
