"""Settings read from the environment, with defaults that work on a developer's machine."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

#: The value a developer's machine runs with; `callcards web --production` and gunicorn refuse it.
DEVELOPMENT_SECRET_KEY = "development-only-not-secret"  # noqa: S105 (a marker, refused in production)

REPO_ROOT = Path(__file__).resolve().parent.parent


def _instance_dir() -> Path:
    return Path(os.environ.get("CALLCARDS_INSTANCE_DIR", REPO_ROOT / "instance"))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    """Everything the FastAGI server, the site and the CLI read from the environment."""

    database_url: str
    recordings_dir: Path
    secret_key: str
    agi_listen: str = "127.0.0.1:4573"
    agi_allow: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    agi_command_timeout: float = 30.0
    default_queue: str = "reception"
    db_timeout: float = 3.0
    settings_refresh_sec: float = 5.0
    ami_host: str = "127.0.0.1"
    ami_port: int = 5038
    ami_user: str = "callcards"
    ami_secret: str = ""
    public_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        """True when the cards live in the embedded SQLite file."""
        return self.database_url.startswith("sqlite")


def load_settings(environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
    """Build Settings from environment variables (see README, "Configuration")."""
    env = os.environ if environ is None else environ
    instance = _instance_dir()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'callcards.sqlite3'}"
    return Settings(
        database_url=normalize_database_url(database_url),
        recordings_dir=Path(env.get("RECORDINGS_DIR") or instance / "recordings"),
        secret_key=env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
        agi_listen=env.get("CALLCARDS_AGI_LISTEN", "127.0.0.1:4573"),
        agi_allow=_split(env.get("CALLCARDS_AGI_ALLOW", "127.0.0.1/32,::1/128")),
        agi_command_timeout=float(env.get("CALLCARDS_AGI_COMMAND_TIMEOUT", "30")),
        default_queue=env.get("CALLCARDS_DEFAULT_QUEUE", "reception"),
        db_timeout=float(env.get("CALLCARDS_DB_TIMEOUT", "3")),
        settings_refresh_sec=float(env.get("CALLCARDS_SETTINGS_REFRESH", "5")),
        ami_host=env.get("CALLCARDS_AMI_HOST", "127.0.0.1"),
        ami_port=int(env.get("CALLCARDS_AMI_PORT", "5038")),
        ami_user=env.get("CALLCARDS_AMI_USER", "callcards"),
        ami_secret=env.get("CALLCARDS_AMI_SECRET", ""),
        public_url=env.get("CALLCARDS_PUBLIC_URL", "").rstrip("/"),
    )


def normalize_database_url(url: str) -> str:
    """Name psycopg2 as the PostgreSQL driver (SQLAlchemy 2.1 would pick psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
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
