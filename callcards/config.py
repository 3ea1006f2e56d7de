"""Settings read from the environment, with defaults that work on a developer's machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

#: The value a developer's machine runs with; `callcards web --production` and gunicorn refuse it.
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"  # noqa: S105 (a marker, refused in production)

REPO_ROOT = Path(__file__).resolve().parent.parent

#: METRICS.md: a number calling again within this many days was not resolved at first call.
FCR_REPEAT_DAYS = 7

#: The call centre's time zone unless CALLCARDS_TIMEZONE says otherwise: the one default.
DEFAULT_TIMEZONE = "Europe/Moscow"

#: CALLCARDS_OUTBOUND_NUMBERS when unset: local and national numbers; premium (8-809...)
#: and international (810..., 00..., +) refused. Syntax: dialplan/numbers.py.
DEFAULT_OUTBOUND_NUMBERS = (
    "!8809.,!7809.,!007809.,!809.,!810.,007XXXXXXXXXX,!00.,"
    "XXX,XXXX,XXXXX,XXXXXX,XXXXXXX,8XXXXXXXXXX,7XXXXXXXXXX,NXXXXXXXXX"
)

#: Where the Asterisk sandbox's Debian packages come from unless CALLCARDS_DEBIAN_MIRROR says.
DEFAULT_DEBIAN_MIRROR = "http://deb.debian.org/debian"

_TRUE = {"1", "true", "yes", "on"}


def _instance_dir() -> Path:
    return Path(os.environ.get("CALLCARDS_INSTANCE_DIR", REPO_ROOT / "instance"))


def cache_dir() -> Path:
    """$CALLCARDS_CACHE_DIR, else $XDG_CACHE_HOME/callcards, else ~/.cache/callcards.

    The Asterisk sandbox builds its root here, before any Settings exist (a test harness).
    """
    if os.environ.get("CALLCARDS_CACHE_DIR"):
        return Path(os.environ["CALLCARDS_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "callcards"


def debian_mirror() -> str:
    """The Debian mirror the sandbox root is built from ($CALLCARDS_DEBIAN_MIRROR)."""
    return os.environ.get("CALLCARDS_DEBIAN_MIRROR") or DEFAULT_DEBIAN_MIRROR


def inside_root(root: Path, path: str) -> Path:
    """The host path of `path` inside a chroot `root`, following its absolute symlinks there."""
    parts = [part for part in path.split("/") if part]
    current = root
    for _hop in range(40):  # the kernel's own limit on symlinks in one lookup
        for index, part in enumerate(parts):
            if part == "..":  # never above the root, as inside the chroot
                current = current.parent if current != root else root
                continue
            step = current / part
            if not step.is_symlink():
                current = step
                continue
            target = str(step.readlink())
            rest = parts[index + 1 :]
            if target.startswith("/"):
                current, parts = root, [*target.split("/"), *rest]
            else:
                parts = [*target.split("/"), *rest]
            parts = [part for part in parts if part and part != "."]
            break
        else:
            return current
    return current


def default_sounds_dir() -> Path | None:
    """Asterisk's sounds/en in the sandbox root, when one has been built on this host."""
    root = cache_dir() / "asterisk-root"
    # In Debian's package sounds/en is a link to /etc/alternatives/..., absolute inside the root.
    sounds = inside_root(root, "usr/share/asterisk/sounds/en")
    return sounds if root.is_dir() and sounds.is_dir() else None


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the FastAGI server, the site and the CLI read from the environment."""

    database_url: str
    recordings_dir: Path
    secret_key: str
    journal_dir: Path = Path("instance/journal")
    agi_listen: str = "127.0.0.1:4573"
    agi_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    agi_command_timeout: float = 30.0
    # Prometheus /metrics of `callcards agi` ("" = off) and the networks allowed to read it.
    agi_metrics_listen: str = ""
    agi_metrics_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    default_queue: str = "reception"
    db_timeout: float = 3.0
    # Threads of the FastAGI server's card store: they share the GIL with its event loop, so
    # few is fast on a local database (docs/benchmarks.md); more for a distant one.
    db_threads: int = 4
    settings_refresh_sec: float = 5.0
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcards"
    ami_secret: str = ""
    public_url: str = ""
    prompts_dir: Path = field(default_factory=lambda: _instance_dir() / "prompts")
    sounds_dir: Path | None = field(default_factory=default_sounds_dir)
    # Asterisk's config folder as this host sees it (pbx writes queues_callcards.conf there).
    asterisk_etc_dir: Path | None = None
    # How a queue member (an operator's phone) is dialled; {extension} is theirs.
    member_interface: str = "PJSIP/{extension}"
    # `callcards agi` completes cards from CEL this often (seconds; 0: never), and closes
    # an open card whose call Asterisk cannot show over once it is this old (seconds).
    reconcile_every: float = 60.0
    reconcile_open_limit: float = 4 * 3600.0
    fcr_repeat_days: int = FCR_REPEAT_DAYS  # CALLCARDS_FCR_REPEAT_DAYS
    # `callcards agi` gathers lost cards into callback tasks this often (seconds; 0: never),
    # and dials the callbacks of 'auto' queues when an operator is free this often.
    callback_every: float = 60.0
    callback_dial_every: float = 10.0
    # The numbers click-to-call and the outbound route may dial (dialplan/numbers.py).
    outbound_numbers: str = DEFAULT_OUTBOUND_NUMBERS
    # The call centre's zone: dates on the site, report days and their roll-ups.
    timezone: str = DEFAULT_TIMEZONE
    # Failed sign-ins one address may make before it waits (a call centre behind one NAT
    # address shares this budget; raise it there).
    login_ip_failures: int = 20
    # A signed-in browser's session ends this many hours after the sign-in (a shift and more).
    session_hours: float = 14.0
    # Reverse proxies in front of the site whose X-Forwarded-* headers are believed.
    trusted_proxies: int = 0
    # CALLCARDS_DEVELOPMENT or FLASK_DEBUG: the production start accepts the default secret.
    development: bool = False
    # Browser phones: Asterisk's SIP WebSocket (wss://pbx.example:8089/ws; ws:// on loopback
    # only) and the STUN/TURN servers the browser may use ("" and () = off).
    phone_wss_url: str = ""
    phone_ice_servers: tuple[str, ...] = ()
    phone_turn_username: str = ""
    phone_turn_password: str = ""
    # The workspace's "Your day": minutes of pause allowed per reason per day, e.g.
    # (("lunch", 60), ("break", 20)); the operator sees the time left of each.
    pause_allowances: tuple[tuple[str, int], ...] = ()
    # The site's live streams (Server-Sent Events) one site worker process serves at once;
    # gunicorn.conf.py gives each worker this many threads and a few more for pages.
    live_streams: int = 128
    # Who may read the site's /metrics (Prometheus): addresses or networks, and/or a bearer
    # token ("" and () = nobody).
    metrics_allow: tuple[str, ...] = ()
    metrics_token: str = ""
    # Under gunicorn (gunicorn.conf.py) each worker's /metrics figures are kept here.
    metrics_dir: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        """True when the cards live in the embedded SQLite file."""
        return self.database_url.startswith("sqlite")

    @property
    def zone(self) -> ZoneInfo:
        """The call centre's time zone."""
        return ZoneInfo(self.timezone)


def load_settings(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Build Settings from environment variables (see README, "Configuration")."""
    env = os.environ if environ is None else environ
    instance = _instance_dir()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'callcards.sqlite3'}"
    return Settings(
        database_url=normalize_database_url(database_url),
        recordings_dir=Path(env.get("RECORDINGS_DIR") or instance / "recordings"),
        journal_dir=Path(env.get("CALLCARDS_JOURNAL_DIR") or instance / "journal"),
        secret_key=env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        agi_listen=env.get("CALLCARDS_AGI_LISTEN", "127.0.0.1:4573"),
        agi_allow=_split(env.get("CALLCARDS_AGI_ALLOW", "127.0.0.1/32,::1/128")),
        agi_command_timeout=float(env.get("CALLCARDS_AGI_COMMAND_TIMEOUT", "30")),
        agi_metrics_listen=env.get("CALLCARDS_AGI_METRICS_LISTEN", "").strip(),
        agi_metrics_allow=_split(env.get("CALLCARDS_AGI_METRICS_ALLOW", "127.0.0.1/32,::1/128")),
        default_queue=env.get("CALLCARDS_DEFAULT_QUEUE", "reception"),
        db_timeout=float(env.get("CALLCARDS_DB_TIMEOUT", "3")),
        db_threads=max(1, int(env.get("CALLCARDS_DB_THREADS", "4"))),
        settings_refresh_sec=float(env.get("CALLCARDS_SETTINGS_REFRESH", "5")),
        ami_host=env.get("CALLCARDS_AMI_HOST", "127.0.0.1"),
        ami_port=int(env.get("CALLCARDS_AMI_PORT", "5038")),
        ami_user=env.get("CALLCARDS_AMI_USER", "callcards"),
        ami_secret=env.get("CALLCARDS_AMI_SECRET", ""),
        public_url=env.get("CALLCARDS_PUBLIC_URL", "").rstrip("/"),
        prompts_dir=Path(env.get("CALLCARDS_PROMPTS_DIR") or instance / "prompts"),
        sounds_dir=Path(env["CALLCARDS_SOUNDS_DIR"])
        if env.get("CALLCARDS_SOUNDS_DIR")
        else default_sounds_dir(),
        asterisk_etc_dir=(
            Path(env["CALLCARDS_ASTERISK_ETC"]) if env.get("CALLCARDS_ASTERISK_ETC") else None
        ),
        member_interface=env.get("CALLCARDS_MEMBER_INTERFACE") or "PJSIP/{extension}",
        reconcile_every=max(0.0, float(env.get("CALLCARDS_RECONCILE_EVERY", "60"))),
        reconcile_open_limit=max(60.0, float(env.get("CALLCARDS_RECONCILE_OPEN_LIMIT", "14400"))),
        callback_every=max(0.0, float(env.get("CALLCARDS_CALLBACK_EVERY") or 60)),
        callback_dial_every=max(0.0, float(env.get("CALLCARDS_CALLBACK_DIAL_EVERY") or 10)),
        outbound_numbers=_outbound_numbers(env.get("CALLCARDS_OUTBOUND_NUMBERS")),
        fcr_repeat_days=max(1, int(env.get("CALLCARDS_FCR_REPEAT_DAYS") or FCR_REPEAT_DAYS)),
        timezone=_zone_name(env.get("CALLCARDS_TIMEZONE") or DEFAULT_TIMEZONE),
        login_ip_failures=max(1, int(env.get("CALLCARDS_LOGIN_IP_FAILURES") or 20)),
        session_hours=max(0.1, float(env.get("CALLCARDS_SESSION_HOURS") or 14)),
        trusted_proxies=max(0, int(env.get("CALLCARDS_TRUSTED_PROXIES") or 0)),
        development=any(
            env.get(name, "").lower() in _TRUE for name in ("CALLCARDS_DEVELOPMENT", "FLASK_DEBUG")
        ),
        phone_wss_url=env.get("CALLCARDS_PHONE_WSS_URL", "").strip(),
        phone_ice_servers=_split(env.get("CALLCARDS_PHONE_ICE_SERVERS", "")),
        phone_turn_username=env.get("CALLCARDS_PHONE_TURN_USERNAME", ""),
        phone_turn_password=env.get("CALLCARDS_PHONE_TURN_PASSWORD", ""),
        pause_allowances=pause_allowances(env.get("CALLCARDS_PAUSE_ALLOWANCES", "")),
        live_streams=max(1, int(env.get("CALLCARDS_LIVE_STREAMS") or 128)),
        metrics_allow=_split(env.get("CALLCARDS_METRICS_ALLOW", "")),
        metrics_token=env.get("CALLCARDS_METRICS_TOKEN", ""),
        metrics_dir=env.get("PROMETHEUS_MULTIPROC_DIR", ""),
    )


def _outbound_numbers(value: str | None) -> str:
    """CALLCARDS_OUTBOUND_NUMBERS checked at start (a bad pattern stops the start, named)."""
    from dialplan.numbers import read_patterns

    text = (value or "").strip() or DEFAULT_OUTBOUND_NUMBERS
    read_patterns(text)
    return text


def pause_allowances(value: str) -> tuple[tuple[str, int], ...]:
    """Read "lunch=60,break=20" as ((reason, minutes), ...); a clear ValueError if malformed."""
    found: list[tuple[str, int]] = []
    for part in _split(value):
        reason, _, minutes = part.partition("=")
        if not reason.strip() or not minutes.strip().isascii() or not minutes.strip().isdigit():
            raise ValueError(
                f"CALLCARDS_PAUSE_ALLOWANCES: {part!r} is not reason=minutes (e.g. lunch=60)"
            )
        found.append((reason.strip(), min(int(minutes), 24 * 60)))
    return tuple(found)


def _zone_name(name: str) -> str:
    """`name` when it is a time zone this host knows; a clear ValueError otherwise."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f"CALLCARDS_TIMEZONE={name!r} is not a time zone (e.g. Europe/Moscow)"
        ) from error
    return name


def normalize_database_url(url: str) -> str:
    """Name psycopg2 as the PostgreSQL driver (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def split_host_port(value: str, default_port: int) -> tuple[str, int]:
    """Parse 'HOST:PORT', '[v6]:PORT' or 'HOST' into (host, port)."""
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        return host, int(rest.lstrip(":") or default_port)
    if value.count(":") == 1:
        host, port = value.split(":")
        return host or "127.0.0.1", int(port)
    return value or "127.0.0.1", default_port
