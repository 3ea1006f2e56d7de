"""Turn etc_asterisk/ into the sandbox's configuration, inside the chroot."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlsplit

from callcards.sandbox.conf import ConfFile, Section
from callcards.sandbox.errors import SandboxError
from pbx.queues_conf import QUEUES_INCLUDE

# Asterisk's view (inside the chroot) of the sandbox folder; on the host it is
# <root>/srv/callcards-sandbox.
SANDBOX_DIR = PurePosixPath("/srv/callcards-sandbox")
ASTERISK_CONF = SANDBOX_DIR / "etc" / "asterisk.conf"
RECORDINGS_IN_ASTERISK = SANDBOX_DIR / "recordings"
# Test-only AMI login. It is fixed so tests and `callcards sandbox` need no
# setup; safe only because the sandbox's AMI listens on loopback (manager.conf).
AMI_USER = "callcards"
AMI_SECRET = "sandbox"  # noqa: S105 - test-only, loopback AMI
# The provider's password in the sandbox: no provider, and SIP listens on loopback at most.
SIP_SECRET = "sandbox"  # noqa: S105 - nothing can use it
TEST_OPERATORS = ("101", "102")
TEST_OPERATOR_CONTEXT = "cc-test-operators"
# How the sandbox's queue members are dialled (CALLCARDS_MEMBER_INTERFACE for pbx.apply).
TEST_MEMBER_INTERFACE = f"Local/{{extension}}@{TEST_OPERATOR_CONTEXT}/n"
# A member's extension in the generated queues file.
_MEMBER_EXTENSION = re.compile(r"^\s*[A-Za-z]+/(?P<extension>[^@/\-;,\s]+)[^,]*(?P<rest>.*)$")
ETC_SOURCE = Path(__file__).resolve().parents[2] / "etc_asterisk"
SANDBOX_ETC = Path(__file__).resolve().parent / "etc"
# Rewritten [directories]: everything that Asterisk writes lives in the
# sandbox folder; modules, sounds and AGI scripts stay where Debian put them.
DIRECTORIES = {
    "astetcdir": "etc",
    "astvarlibdir": "lib",
    "astdbdir": "db",
    # Asterisk looks for keys in <astkeydir>/keys.
    "astkeydir": ".",
    "astspooldir": "spool",
    "astrundir": "run",
    "astlogdir": "log",
    "astcachedir": "cache",
}
MOH_SOUNDS = ("tt-monkeys.gsm", "tt-weasels.gsm")
SOUNDS_IN_ROOT = "usr/share/asterisk/sounds/en_US_f_Allison"


def sandbox_dir(root: Path) -> Path:
    """The host path of the sandbox folder inside `root`."""
    return root / SANDBOX_DIR.relative_to("/")


def host_path(root: Path, path: PurePosixPath) -> Path:
    """The host path of `path` as Asterisk sees it inside `root`."""
    return root / path.relative_to("/")


def render(
    root: Path,
    *,
    agi_address: str = "127.0.0.1:4573",
    ami_port: int = 5038,
    database_url: str | None = None,
    source: Path | None = None,
    sip_port: int | None = None,
    ws_port: int | None = None,
) -> Path:
    """Write the sandbox configuration into `root`; return the host path of its etc folder.

    `sip_port`: SIP over UDP on that loopback port (tests register phones); else no SIP at all.
    `ws_port`: SIP over plain WebSocket (ws://127.0.0.1:<port>/ws) for browser phones, with
    their ICE and RTP kept on loopback; else no HTTP server at all.
    """
    source = source or ETC_SOURCE
    # Neither folder is in a wheel: the sandbox runs from a checkout (pip install -e).
    for needed in (source / "extensions.conf", SANDBOX_ETC / "extensions_sandbox.conf"):
        if not needed.is_file():
            raise SandboxError(
                f"{needed} is missing: run the sandbox from a callcards checkout "
                "(it renders etc_asterisk/ with callcards/sandbox/etc/)"
            )
    base = sandbox_dir(root)
    for folder in (*DIRECTORIES.values(), "moh", "recordings"):
        (base / folder).mkdir(parents=True, exist_ok=True)
    etc = base / "etc"
    shutil.rmtree(etc)
    etc.mkdir()
    # Only the .conf files: never a site's keys, and the secret files below
    # are the sandbox's own (a developer's real ones must not leak in).
    for conf in sorted(source.glob("*.conf")):
        shutil.copyfile(conf, etc / conf.name)
    for conf in sorted(SANDBOX_ETC.glob("*.conf")):
        shutil.copyfile(conf, etc / conf.name)

    _edit(etc / "asterisk.conf", _asterisk_conf)
    _edit(etc / "extensions.conf", lambda conf: _extensions_conf(conf, agi_address))
    _edit(etc / "queues.conf", _queues_conf)
    if (etc / QUEUES_INCLUDE).is_file():
        _edit(etc / QUEUES_INCLUDE, _generated_queues_conf)
    _edit(etc / "manager.conf", lambda conf: _manager_conf(conf, ami_port))
    (etc / "callcards_ami.conf").write_text(
        f"; SANDBOX ONLY (loopback AMI, test login).\nsecret = {AMI_SECRET}\n"
    )
    _edit(etc / "pjsip.conf", lambda conf: _pjsip_conf(conf, sip_port, ws_port))
    pjsip = ConfFile.parse(_read(etc / "pjsip.conf"))
    (etc / "pjsip_secrets.conf").write_text(_pjsip_secrets(pjsip))
    _edit(etc / "http.conf", lambda conf: _http_conf(conf, ws_port))
    _edit(etc / "rtp.conf", _rtp_conf)
    _edit(etc / "musiconhold.conf", _musiconhold_conf)
    _copy_moh(root, base / "moh")
    _edit(etc / "modules.conf", lambda conf: _modules_conf(conf, database_url is not None))
    (etc / "callcards_db.conf").write_text(_db_conf(database_url))
    return etc


def _read(path: Path) -> str:
    """A config file's text; SandboxError if etc_asterisk/ lacks it."""
    if not path.is_file():
        raise SandboxError(f"{path.name} is missing from the Asterisk configuration")
    return path.read_text()


def _edit(path: Path, change: Callable[[ConfFile], None]) -> None:
    """Parse `path`, apply `change(conf)`, write it back."""
    conf = ConfFile.parse(_read(path))
    change(conf)
    path.write_text(conf.render())


def _asterisk_conf(conf: ConfFile) -> None:
    """Point every folder Asterisk writes to into the sandbox; run as root."""
    directories = conf.section("directories")
    for key, folder in DIRECTORIES.items():
        directories.set(key, str(SANDBOX_DIR / folder), arrow=True)
    options = conf.section("options")
    # The chroot's files belong to the host user that runs the tests.
    options.remove("runuser")
    options.remove("rungroup")
    # The sandbox shares a 2-core test machine with the suite, browsers and builds: a load
    # over production's maxload must not make Asterisk turn test calls away ("Maximum load
    # average exceeded"), so the sandbox takes calls at any load.
    options.remove("maxload")


def _extensions_conf(conf: ConfFile, agi_address: str) -> None:
    """Our FastAGI address and recordings folder; the test contexts."""
    if "://" in agi_address:
        raise SandboxError(f"agi_address is host:port, not a URL: {agi_address!r}")
    globals_ = conf.section("globals")
    for key in ("CC_AGI", "CC_RECORDINGS_DIR"):
        if globals_.get(key) is None:
            raise SandboxError(f"extensions.conf [globals] has no {key}")
    globals_.set("CC_AGI", f"agi://{agi_address}")
    globals_.set("CC_RECORDINGS_DIR", str(RECORDINGS_IN_ASTERISK))
    globals_.set("CC_TEST_ANSWER_DELAY", "0")
    globals_.set("CC_TEST_TALK_TIME", "600")
    conf.sections[-1].add('#include "extensions_sandbox.conf"')


def _queues_conf(conf: ConfFile) -> None:
    """Every queue's members become the test operators (Local channels)."""
    for section in conf.sections:
        if section.name == "general":
            continue
        section.remove("member")
        # Back-to-back test calls must find the operators free at once.
        section.set("wrapuptime", "0")
        if section.is_template:
            continue
        for ext in TEST_OPERATORS:
            section.add(f"member => Local/{ext}@{TEST_OPERATOR_CONTEXT}/n")


def _generated_queues_conf(conf: ConfFile) -> None:
    """The generated queues keep their operators, dialled as test operators (Local channels)."""
    for section in conf.sections:
        section.set("wrapuptime", "0")
        section.lines = [_test_member(line) for line in section.lines]


def _test_member(line: str) -> str:
    """`member => PJSIP/101,0,Name` as `member => Local/101@cc-test-operators/n,0,Name`."""
    key, arrow, value = line.partition("=>")
    if not arrow or key.strip().lower() != "member":
        return line
    match = _MEMBER_EXTENSION.match(value)
    if match is None:
        raise SandboxError(f"{QUEUES_INCLUDE}: no extension in {line.strip()!r}")
    interface = TEST_MEMBER_INTERFACE.format(extension=match["extension"])
    return f"member => {interface}{match['rest']}"


def _manager_conf(conf: ConfFile, ami_port: int) -> None:
    """AMI on the requested loopback port (the login comes from callcards_ami.conf)."""
    general = conf.section("general")
    general.set("port", str(ami_port))
    general.set("bindaddr", "127.0.0.1")
    user = conf.section(AMI_USER)
    # Tests also watch the keys a phone sends (DTMFBegin/DTMFEnd, class "dtmf").
    read = user.get("read")
    if read is not None and "dtmf" not in read.split(","):
        user.set("read", f"{read},dtmf")


def _pjsip_conf(conf: ConfFile, sip_port: int | None, ws_port: int | None = None) -> None:
    """Drop what needs the network: transports, registrations, identifies, static contacts.

    With `sip_port`, one UDP transport on loopback, for the tests' phones; with `ws_port`, a
    plain WebSocket transport (http.conf's loopback server) for browser phones.
    """
    kept = []
    for section in conf.sections:
        kind = conf.type_of(section)
        if kind in ("transport", "registration", "identify"):
            continue
        section.remove("transport")
        if kind == "aor" and section.get("contact") is not None:
            section.remove("contact")
            section.remove("qualify_frequency")
        if section.get("dtls_cert_file") is not None:
            # No certificate files in the sandbox; Asterisk makes a throwaway one.
            section.remove("dtls_cert_file")
            section.remove("dtls_private_key")
            section.set("dtls_auto_generate_cert", "yes")
            # Media on loopback only: the RTP socket and the SDP's address are 127.0.0.1.
            section.set("media_address", "127.0.0.1")
            section.set("bind_rtp_to_media_address", "yes")
        kept.append(section)
    if sip_port is not None:
        transport = Section("transport-sandbox", "")
        for line in ("type = transport", "protocol = udp", f"bind = 127.0.0.1:{sip_port}"):
            transport.add(line)
        kept.append(transport)
    if ws_port is not None:
        # The socket is http.conf's server; a WS transport's bind is required but unused.
        websocket = Section("transport-sandbox-ws", "")
        for line in ("type = transport", "protocol = ws", "bind = 127.0.0.1"):
            websocket.add(line)
        kept.append(websocket)
    conf.sections = kept


def _pjsip_secrets(conf: ConfFile) -> str:
    """A password for every auth section, so they load without the site's secrets."""
    lines = ["; SANDBOX ONLY: no SIP transport listens in the sandbox."]
    for section in conf.sections:
        if not section.is_template and conf.type_of(section) == "auth":
            lines += ["", f"[{section.name}](+)", f"password = {SIP_SECRET}"]
    return "\n".join(lines) + "\n"


def _http_conf(conf: ConfFile, ws_port: int | None) -> None:
    """No TLS (no certificates here); plain HTTP/WS on a loopback port only with `ws_port`."""
    general = conf.section("general")
    general.set("tlsenable", "no")
    general.remove("tlsbindaddr")
    general.remove("tlscertfile")
    general.remove("tlsprivatekey")
    if ws_port is None:
        general.set("enabled", "no")
        return
    general.set("enabled", "yes")
    general.set("bindaddr", "127.0.0.1")
    general.set("bindport", str(ws_port))


def _rtp_conf(conf: ConfFile) -> None:
    """ICE offers 127.0.0.1 only and asks no STUN/TURN server: tests send to loopback only.

    Asterisk makes its host candidates from the machine's interfaces, never from loopback
    (pjlib's pj_enum_ip_interface skips it), so an ice_deny/ice_permit rule alone leaves
    none; [ice_host_candidates] advertises 127.0.0.1 in place of every local address, and
    the RTP socket itself is bound to 127.0.0.1 (pjsip.conf, bind_rtp_to_media_address).
    """
    general = conf.section("general")
    for key in (
        "stunaddr",
        "turnaddr",
        "turnusername",
        "turnpassword",
        "ice_deny",
        "ice_permit",
        "ice_blacklist",
        "ice_acl",
    ):
        general.remove(key)
    general.set("icesupport", "yes")
    conf.sections = [section for section in conf.sections if section.name != "ice_host_candidates"]
    candidates = Section("ice_host_candidates", "")
    for address in _local_ipv4_addresses():
        candidates.add(f"{address} => 127.0.0.1")
    conf.sections.append(candidates)


def _local_ipv4_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback (`ip -o -4 addr show`)."""
    try:
        shown = subprocess.run(
            ["ip", "-o", "-4", "addr", "show"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise SandboxError(f"cannot list this machine's addresses (ip addr): {error}") from error
    addresses = []
    for line in shown.splitlines():
        words = line.split()
        if "inet" in words:
            address = words[words.index("inet") + 1].split("/")[0]
            if not address.startswith("127."):
                addresses.append(address)
    return sorted(set(addresses))


def _musiconhold_conf(conf: ConfFile) -> None:
    """Hold music from the sandbox's moh folder (Debian's music package is not installed)."""
    for section in conf.sections:
        if section.get("mode") == "files":
            section.set("directory", str(SANDBOX_DIR / "moh"))


def _copy_moh(root: Path, moh: Path) -> None:
    """A couple of core prompts as hold 'music'."""
    for name in MOH_SOUNDS:
        sound = root / SOUNDS_IN_ROOT / name
        if sound.is_file() and not (moh / name).exists():
            shutil.copyfile(sound, moh / name)


def _modules_conf(conf: ConfFile, with_database: bool) -> None:
    """Without a database, CDR/CEL stay in the core but the PostgreSQL writers are off."""
    if with_database:
        return
    modules = conf.section("modules")
    modules.lines = [
        re.sub(r"^\s*load\s*=>\s*(c[de][lr]_pgsql\.so)", r"noload => \1", line)
        for line in modules.lines
    ]


def _db_conf(database_url: str | None) -> str:
    """callcards_db.conf for cdr_pgsql/cel_pgsql from a PostgreSQL URL."""
    if database_url is None:
        return "; SANDBOX ONLY: no database given; cdr_pgsql/cel_pgsql are not loaded.\n"
    url = urlsplit(database_url)
    if url.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise SandboxError(
            f"CDR/CEL need a PostgreSQL URL, got {url.scheme}://...; "
            "pass no database to run the sandbox without them"
        )
    values = {
        "hostname": url.hostname or "127.0.0.1",
        "port": str(url.port or 5432),
        "dbname": unquote(url.path.lstrip("/")) or "callcards",
        "user": unquote(url.username or "postgres"),
        "password": unquote(url.password or ""),
    }
    lines = ["; SANDBOX ONLY: written by callcards.sandbox from its database URL."]
    for key, value in values.items():
        # A ";" starts a comment in Asterisk's config files unless escaped.
        lines.append(f"{key} = " + value.replace(";", "\\;"))
    return "\n".join(lines) + "\n"
